#!/bin/sh
# shanhai statement offline, on the example ledgers (as `shanhai settle`
# prints them, with --rules, and as the daemon writes them, with their rules
# entries): the SPEC §5a statement and its hash must equal, byte for byte,
# the one tests/ref/statement.py computes from the settlement and adjustment
# entries alone; the table and CSV carry its totals; an incomplete year has
# no statement; sums at the edge of an amount still make one; exit statuses
# follow shanhai(1).
set -eu
BUILD=${BUILD:-build}
SH=$BUILD/shanhai
T=${TMPDIR:-/tmp}
fail() { echo "FAIL: $*"; exit 1; }

check() {	# case agreement year [rules]
	rules=${4:-tests/cases/$1/rules}
	entries=$T/$1.jsonl
	# (Cases with refused reports exit 1: their entries are still good.)
	[ -f "$entries" ] || "$SH" settle --rules "$rules" \
		"tests/cases/$1/reports.jsonl" > "$entries" 2>/dev/null || true
	"$SH" statement --agreement "$2" --year "$3" --entries "$entries" \
		--rules "$rules" --format json > "$T/st.json" ||
		fail "$1 $2 $3: shanhai statement"
	python3 tests/ref/statement.py "$entries" "$rules" "$2" "$3" > "$T/want.json" ||
		fail "$1 $2 $3: the reference says the year is incomplete"
	cmp -s "$T/st.json" "$T/want.json" || {
		diff "$T/want.json" "$T/st.json" | head -5
		fail "$1 $2 $3: the statement differs from the reference"
	}
	echo "$2 $3: $(cut -c1-80 "$T/st.json")"
}

check example-kecheng-yuhang-2026 kecheng-yuhang 2026
check example-longquan-xiaoshan-2026 longquan-xiaoshan 2026
check example-qujiang-yinzhou-2023-2024 qujiang-yinzhou 2023
for y in 2016 2017 2018 2019 2020 2021 2022 2023 2024; do
	check example-kaihua-tongxiang-2016-2024 kaihua-tongxiang $y
done
check spec-example-2 ex-bands 2026
check sums-at-the-edge edge 2026
grep -q '"total":{"base":"9999999999999.99"' "$T/st.json" ||
	fail "sums at the edge: $(cat "$T/st.json")"

# The table and the CSV carry the same totals; 2026's floor top-up shows.
ky=$T/example-kecheng-yuhang-2026.jsonl
"$SH" statement --agreement kecheng-yuhang --year 2026 --entries "$ky" --rules rules \
	> "$T/st.txt" || fail "table"
grep -q '^合计 .*2,916,035.23  1,500,000.00  1,416,035.23  41,982.38' "$T/st.txt" ||
	fail "table totals: $(grep 合计 "$T/st.txt")"
"$SH" statement --agreement kecheng-yuhang --year 2026 --entries "$ky" --rules rules \
	--format csv --lang en --out "$T/st.csv" || fail "csv"
grep -q '2916035.23' "$T/st.csv" || fail "csv totals"
"$SH" statement --agreement kecheng-yuhang --year 2026 --entries "$ky" --rules rules \
	--format pdf --out "$T/st.pdf" || fail "pdf"
pdftotext "$T/st.pdf" - | grep -q '2,916,035.23' || fail "pdf totals"

# A ledger as the daemon writes it carries its rules: no --rules needed.
"$SH" fixture build --rules rules --time 2027-01-05T00:00:00Z \
	tests/cases/example-kaihua-tongxiang-2016-2024/reports.jsonl > "$T/kt.jsonl"
"$SH" statement --agreement kaihua-tongxiang --year 2022 --entries "$T/kt.jsonl" \
	--format json > "$T/kt.json" || fail "daemon-style ledger"
cmp -s "$T/kt.json" "$(python3 tests/ref/statement.py "$T/kt.jsonl" rules \
	kaihua-tongxiang 2022 > "$T/kt.want" && echo "$T/kt.want")" ||
	fail "daemon-style ledger: differs"

# Exit statuses: 1 no statement (incomplete year, unknown agreement, a
# ledger the engine refuses), 2 usage or I/O.
st() { set +e; "$SH" statement "$@" >/dev/null 2>"$T/err"; rc=$?; set -e; echo $rc; }
q=$T/example-qujiang-yinzhou-2023-2024.jsonl
[ "$(st --agreement qujiang-yinzhou --year 2024 --entries "$q" --rules rules)" = 1 ] ||
	fail "an incomplete year"
grep -q "qujiang-yinzhou 2024 is incomplete" "$T/err" || fail "incomplete: $(cat "$T/err")"
[ "$(st --agreement nope --year 2026 --entries "$ky" --rules rules)" = 1 ] ||
	fail "an unknown agreement"
grep -q 'agreement: "nope" is not a loaded agreement' "$T/err" || fail "nope: $(cat "$T/err")"
sed '2s/"home":"[^"]*"/"home":"1.00"/' "$ky" > "$T/bad"
[ "$(st --agreement kecheng-yuhang --year 2026 --entries "$T/bad" --rules rules)" = 1 ] ||
	fail "a damaged ledger"
grep -q "$T/bad:2: entry 1: settlement: field \"home\" is \"1.00\" in the ledger, the replay gives" "$T/err" ||
	fail "damaged: $(cat "$T/err")"
[ "$(st --agreement x --year 2026 --entries "$T/missing")" = 2 ] || fail "missing file"
[ "$(st --agreement x --year 2026 --entries "$ky" --format xml)" = 2 ] || fail "bad format"
[ "$(st --agreement x --entries "$ky")" = 2 ] || fail "no year"
[ "$(st --agreement x --year 26 --entries "$ky")" = 2 ] || fail "bad year"
# `| head` closes the pipe: no "Broken pipe" message.
"$SH" statement --agreement kecheng-yuhang --year 2026 --entries "$ky" --rules rules \
	2>"$T/err" | head -1 > /dev/null
[ ! -s "$T/err" ] || fail "| head: $(cat "$T/err")"
echo "statement: ok"
