#!/bin/sh
# The year statement's documents (shanhai statement --model): every format in
# both languages rendered from the fixture models in tests/documents, and
# read back: the PDF with pdftotext (A4, every font embedded), the XLSX with
# openpyxl (numbers, two-decimal format, frozen header, Chinese sheet names),
# the CSV byte by byte (BOM, CRLF, RFC 4180 quoting, formula neutralising),
# the JSON canonical with its hash. Every amount of each document is checked
# against the model, and the models against the ledger entries they were
# built from (tests/ref/document_model.py, in Python, from the entries and
# rules alone). A model that contradicts itself is refused, naming the field.
set -eu
BUILD=${BUILD:-build}
SH=$BUILD/shanhai
T=${TMPDIR:-/tmp}
D=tests/documents
# openpyxl is Debian's (python3-openpyxl): a python3 earlier in PATH (pyenv,
# a virtualenv) may not have it.
PY=python3
$PY -c 'import openpyxl' 2>/dev/null || PY=/usr/bin/python3

# The committed models are what the ledger entries give, today.
model() {	# rules entries year approvals name
	python3 tests/ref/document_model.py "$D/rules/$1.conf" "$D/$2" "$3" \
		"$4" > "$T/$5.model.json"
	cmp "$T/$5.model.json" "$D/$5.model.json"
}
model kecheng-yuhang kecheng-yuhang-2026.jsonl 2026 host kecheng-yuhang-2026
model kaihua-tongxiang kaihua-tongxiang-2016-2024.jsonl 2020 both \
	kaihua-tongxiang-2020
model qujiang-yinzhou qujiang-yinzhou-2023-2024.jsonl 2023 none \
	qujiang-yinzhou-2023

render() {	# model lang
	for f in pdf xlsx csv json table; do
		"$SH" statement --model "$D/$1.model.json" --format $f \
			--lang $2 --out "$T/$1.$2.$f"
	done
	pdftotext -layout "$T/$1.$2.pdf" "$T/$1.$2.pdf.txt"
	pdffonts "$T/$1.$2.pdf" > "$T/$1.$2.fonts"
	pdfinfo "$T/$1.$2.pdf" > "$T/$1.$2.info"
}

for m in kecheng-yuhang-2026 kaihua-tongxiang-2020 qujiang-yinzhou-2023; do
	for lang in zh en; do
		render $m $lang
		$PY tests/documents/readback.py "$D/$m.model.json" \
			"$T/$m.$lang" $lang
	done
done

# An approved statement renders to the same bytes (dated by its approval).
"$SH" statement --model "$D/kaihua-tongxiang-2020.model.json" --format pdf \
	--out "$T/again.pdf"
cmp "$T/again.pdf" "$T/kaihua-tongxiang-2020.zh.pdf"
pdfinfo "$T/again.pdf" | grep -q '^CreationDate: .*Jan 12 09:30:00 2021'

# Formula injection: free text that Excel would run is neutralised; the
# negative amounts of the same CSV stay numbers.
python3 - "$D/qujiang-yinzhou-2023.model.json" "$T/evil.model.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["agreement"]["title"] = '=HYPERLINK("x","y")'
m["agreement"]["home_name"] = "+1 bureau"
m["agreement"]["host_name"] = '@SUM(A1), "quoted"'
json.dump(m, open(sys.argv[2], "w"))
EOF
"$SH" statement --model "$T/evil.model.json" --format csv --out "$T/evil.csv"
grep -q "^$(printf '\357\273\277')\"'=HYPERLINK(\"\"x\"\",\"\"y\"\") 2023年度收益分成结算单\"" "$T/evil.csv"
grep -q "\"'+1 bureau\",330803" "$T/evil.csv"
grep -q "\"'@SUM(A1), \"\"quoted\"\"\",330212" "$T/evil.csv"
grep -q '^2023-01,2019-01,727186.91,1000000.00,-272813.09,0.00,' "$T/evil.csv"

# Refused models: the message names the field; nothing is written.
bad() {	# what python-edit expected-message
	python3 - "$D/kecheng-yuhang-2026.model.json" "$T/bad.json" "$2" <<'EOF'
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(m, open(sys.argv[2], "w"))
EOF
	rm -f "$T/bad.pdf"
	set +e
	"$SH" statement --model "$T/bad.json" --format pdf --out "$T/bad.pdf" \
		2>"$T/err"
	rc=$?
	set -e
	[ $rc = 1 ] || { echo "$1: exit $rc"; exit 1; }
	grep -qF "$3" "$T/err" || { echo "$1:"; cat "$T/err"; exit 1; }
	[ ! -e "$T/bad.pdf" ]
}
bad incomplete 'm["statement"] = None; m["sha256"] = None; m["status"] = "incomplete"' \
	'statement: null (status incomplete)'
bad hash 'm["sha256"] = "0" * 64' 'sha256: not the hash of the statement'
bad float 'm["statement"]["periods"][0]["home"] = 1.5' \
	'statement.periods[0].home: not an amount'
bad sum 'm["statement"]["total"]["home"] = "1.00"; m["sha256"] = hashlib.sha256(json.dumps(m["statement"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()' \
	'statement.total: not the sum of the periods'
bad retained 'm["detail"][0]["taxes"]["vat"]["retained"] = "1.00"' \
	'detail[0].taxes.vat.retained: not round(amount × 50%)'
bad base 'm["detail"][2]["deductions"] = "0.00"' \
	'detail[2]: the retained taxes less deductions are not the period'"'"'s base'
bad period 'm["detail"][0]["period"] = "2025-01"' \
	"detail[0].period: '2025-01' is not a period of the statement"
bad approval 'm["approvals"]["host"]["index"] = "x"' \
	'approvals.host.index: not an entry index'
set +e
"$SH" statement --model "$D/kecheng-yuhang-2026.model.json" --format doc \
	>/dev/null 2>&1
[ $? = 2 ] || { echo "--format doc: not a usage error"; exit 1; }
"$SH" statement --model "$T/missing.json" --format pdf >/dev/null 2>&1
[ $? = 2 ] || { echo "missing model: not an I/O error"; exit 1; }
set -e
echo "documents: ok"
