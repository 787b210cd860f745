#!/bin/sh
# Report ingest end to end: the sample reports submitted over mutual TLS by
# the right bureaus (curl and `shanhai submit`), every status code of SPEC 7
# for POST /v1/reports, the ledger compared with `shanhai settle`, the
# ledger endpoints, `shanhai verify` on what was fetched, the rules veto on
# reload, and a restart that finds the ledger byte for byte the same.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
start_daemon "$c"
base=https://127.0.0.1:$port
d=$T/etc

expect() {	# expect STATUS OUTPUT-OF-as WHAT
	[ "$(printf '%s\n' "$2" | tail -1)" = "$1" ] || fail "$3: got $(printf '%s' "$2" | tr '\n' ' ')"
}
body() { printf '%s\n' "$1" | sed '$d'; }
# fetch NAME URL FILE: a 200 answer's body, exactly, into FILE.
fetch() {
	curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/$1.crt" \
	    --key "$T/pki/$1.key" -o "$3" "$2" || fail "GET $2 as $1"
}
post() {	# post BUREAU FILE [curl args]; CTYPE overrides the content type
	n=$1; f=$2; shift 2
	as "$n" "$base/v1/reports" -H "Content-Type: ${CTYPE:-application/json}" --data-binary @"$f" "$@"
}

# Submit every sample report, alternating curl and `shanhai submit`.
: > "$T/all.jsonl"
i=0
for case in kecheng-yuhang-2026 longquan-xiaoshan-2026 qujiang-yinzhou-2023-2024; do
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		i=$((i + 1))
		f=$T/r$i.json
		printf '%s\n' "$line" > "$f"
		printf '%s\n' "$line" >> "$T/all.jsonl"
		b=$(bureau_of "$f")
		if [ $((i % 2)) = 0 ]; then
			out=$(post "$b" "$f"); expect 201 "$out" "report $i by $b"
			body "$out" > "$T/r$i.receipt.json"
		else
			"$BUILD/shanhai" submit --url "$base" --cert "$T/pki/$b.crt" \
			    --key "$T/pki/$b.key" --cacert "$T/pki/ca.crt" "$f" \
			    > "$T/submit.out" 2>"$T/submit.err" || fail "shanhai submit $f: $(cat "$T/submit.err")"
			[ -s "$T/r$i.receipt.json" ] || fail "no receipt saved for $f"
			grep -q 'accepted (201)' "$T/submit.err" || fail "submit: $(cat "$T/submit.err")"
		fi
	done < "$TOP/tests/cases/example-$case/reports.jsonl"
done
n=$i

# An identical resubmission: 200 and the very same receipt, with both clients.
out=$(post yuhang "$T/r2.json"); expect 200 "$out" "identical resubmission"
[ "$(body "$out")" = "$(cat "$T/r2.receipt.json")" ] || fail "resubmission receipt differs"
"$BUILD/shanhai" submit --url "$base/" --cert "$T/pki/yuhang.crt" --key "$T/pki/yuhang.key" \
    --cacert "$T/pki/ca.crt" --out "$T/again.json" "$T/r1.json" >/dev/null 2>"$T/submit.err" ||
    fail "submit again: $(cat "$T/submit.err")"
cmp -s "$T/again.json" "$T/r1.receipt.json" || fail "shanhai submit: second receipt differs"
grep -q 'already accepted (200)' "$T/submit.err" || fail "submit again: $(cat "$T/submit.err")"
# `shanhai submit`: a URL ending in /v1/reports, a refusal (exit 1, the
# problem's detail), a server that is not there and a bad URL (exit 2).
sub() {	# sub EXPECTED-EXIT BUREAU URL FILE
	set +e
	"$BUILD/shanhai" submit --url "$3" --cert "$T/pki/$2.crt" --key "$T/pki/$2.key" \
	    --cacert "$T/pki/ca.crt" --out "$T/sub.json" "$4" >/dev/null 2>"$T/submit.err"
	rc=$?
	set -e
	[ $rc = "$1" ] || fail "submit $3 as $2: exit $rc, not $1: $(cat "$T/submit.err")"
}
sub 0 yuhang "$base/v1/reports/" "$T/r1.json"
cmp -s "$T/sub.json" "$T/r1.receipt.json" || fail "submit to .../v1/reports: receipt differs"
sub 1 kecheng "$base" "$T/r1.json"
grep -q '^shanhai submit: refused (403): role: ' "$T/submit.err" || fail "submit refused: $(cat "$T/submit.err")"
sub 2 yuhang "https://127.0.0.1:$(free_port)" "$T/r1.json"
grep -q 'connect 127.0.0.1:[0-9]*: Connection refused' "$T/submit.err" || fail "submit to nobody: $(cat "$T/submit.err")"
sub 2 yuhang "http://127.0.0.1:$port" "$T/r1.json"
grep -q 'not https://HOST\[:PORT\]\[/PATH\]' "$T/submit.err" || fail "submit http://: $(cat "$T/submit.err")"

# The refusals of SPEC 7, each problem+json naming the field.
hdr=$T/headers
problem() {	# problem STATUS OUTPUT WHAT DETAIL-PATTERN
	expect "$1" "$2" "$3"
	grep -qi '^content-type: application/problem+json' "$hdr" || fail "$3: not problem+json"
	body "$2" | grep -q "\"detail\":\"$4" || fail "$3: detail: $2"
}
out=$(post kecheng "$T/r2.json" -D "$hdr"); problem 403 "$out" "wrong bureau" "role: "
out=$(post auditor "$T/r2.json" -D "$hdr"); expect 403 "$out" "auditor posting"
printf 'not json' > "$T/bad.json"
out=$(post yuhang "$T/bad.json" -D "$hdr"); problem 400 "$out" "not JSON" ""
out=$(CTYPE=text/plain post yuhang "$T/r2.json" -D "$hdr")
problem 415 "$out" "text/plain" "Content-Type: "
sed 's/"vat": "[0-9.]*"/"vat": "1.00"/' "$T/r2.json" > "$T/reused.json"
out=$(post yuhang "$T/reused.json" -D "$hdr"); problem 409 "$out" "report_id reused" "report_id"
sed 's/"report_id": "[^"]*"/"report_id": "again-1"/' "$T/reused.json" > "$T/twice.json"
out=$(post yuhang "$T/twice.json" -D "$hdr"); problem 409 "$out" "period already reported" "supersedes"
sed 's/"vat": "[0-9.]*"/"vat": 12.5/; s/"report_id": "[^"]*"/"report_id": "bad-1"/' "$T/r2.json" > "$T/num.json"
out=$(post yuhang "$T/num.json" -D "$hdr"); problem 422 "$out" "amount as a number" "taxes.vat"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["report_id"]="big-1"; r["pad"]="x"*70000; print(json.dumps(r))' \
    "$T/r2.json" > "$T/big.json"
out=$(post yuhang "$T/big.json" -D "$hdr"); problem 413 "$out" "too large" "body: "

# The ledger: rules entries, then exactly what `shanhai settle` gives.
cp_file=$T/checkpoint
out=$(as auditor "$base/v1/ledger/checkpoint" -D "$hdr"); expect 200 "$out" "checkpoint"
grep -qi '^content-type: text/plain' "$hdr" || fail "checkpoint content type"
fetch auditor "$base/v1/ledger/checkpoint" "$cp_file"
size=$(sed -n 2p "$cp_file")
fetch auditor "$base/v1/ledger/entries?start=0&end=$size" "$T/entries.jsonl"
[ "$(wc -l < "$T/entries.jsonl")" = "$size" ] || fail "entries: $(wc -l < "$T/entries.jsonl") lines, size $size"
"$BUILD/shanhai" settle --rules "$d/rules" "$T/all.jsonl" > "$T/settled.jsonl" || fail "shanhai settle"
python3 - "$T/entries.jsonl" "$T/settled.jsonl" "$T/pki/fingerprints" "$d/rules" <<'EOF' || fail "ledger differs from shanhai settle"
import json, os, re, sys
entries = [l.rstrip("\n") for l in open(sys.argv[1])]
settled = [l.rstrip("\n") for l in open(sys.argv[2])]
fprs = dict(l.split() for l in open(sys.argv[3]))
stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
rules = [json.loads(e) for e in entries if json.loads(e)["type"] == "rules"]
assert [r["agreement"] for r in rules] == sorted(f[:-5] for f in os.listdir(sys.argv[4])), rules
for r in rules:
    assert r["text"] == open(os.path.join(sys.argv[4], r["agreement"] + ".conf")).read()
rest = []
for e in entries:
    o = json.loads(e)
    assert stamp.match(o.pop("time")), e
    if o["type"] == "rules":
        continue
    if o["type"] == "report":
        assert o.pop("submitter") in fprs.values(), e
    rest.append(json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
assert rest == settled, "\n".join(x for x in rest if x not in settled)
EOF

# Each receipt names its report entry, and `shanhai verify` accepts all.
for k in $(seq 1 "$n"); do
	python3 - "$T/r$k.receipt.json" "$T/entries.jsonl" <<'EOF' || fail "receipt $k"
import base64, json, sys
r = json.load(open(sys.argv[1]))
entries = open(sys.argv[2]).read().splitlines()
e = json.loads(entries[r["index"]])
assert e["type"] == "report" and e["sha256"] == r["report"], (r, e)
assert r["entries"] == list(range(r["index"], r["index"] + len(r["entries"])))
# The proof carries the report entry exactly as hashed.
extra = base64.b64encode(entries[r["index"]].encode()).decode()
assert r["proof"].startswith("c2sp.org/tlog-proof@v1\nextra %s\nindex %d\n" % (extra, r["index"]))
assert r["status"] in ("waiting", "settled", "disputed")
EOF
done
"$BUILD/shanhai" verify --vkey "$d/ledger.key.vkey" --checkpoint "$cp_file" \
    --entries "$T/entries.jsonl" >"$T/verify.out" 2>&1 || fail "shanhai verify: $(cat "$T/verify.out")"
"$BUILD/shanhai" verify --vkey "$d/ledger.key.vkey" --checkpoint "$cp_file" \
    --entries "$T/entries.jsonl" --receipt "$T/r5.receipt.json" >"$T/verify.out" 2>&1 ||
    fail "shanhai verify --receipt: $(cat "$T/verify.out")"
# A bureau checks its receipt alone: the key and the receipt.
"$BUILD/shanhai" verify --vkey "$d/ledger.key.vkey" --receipt "$T/r5.receipt.json" \
    >"$T/verify.out" 2>&1 || fail "shanhai verify --receipt alone: $(cat "$T/verify.out")"
grep -q "included in the signed checkpoint" "$T/verify.out" || fail "receipt alone: $(cat "$T/verify.out")"

# Ledger endpoints: who may read entries, ranges, proofs, periods.
out=$(as yuhang "$base/v1/ledger/entries?start=0&end=1"); expect 403 "$out" "bureau reading entries"
out=$(as operator "$base/v1/ledger/entries?start=0&end=1"); expect 200 "$out" "operator reading entries"
out=$(as auditor "$base/v1/ledger/entries?start=0&end=$((size + 1))"); expect 400 "$out" "entries past the end"
out=$(as auditor "$base/v1/ledger/entries?start=x&end=1"); expect 400 "$out" "entries start=x"
out=$(as yuhang "$base/v1/ledger/proof/inclusion?index=3&size=$size"); expect 200 "$out" "inclusion"
body "$out" | grep -q "^{\"index\":3,\"size\":$size,\"hashes\":\[\"" || fail "inclusion: $out"
out=$(as yuhang "$base/v1/ledger/proof/inclusion?index=$size&size=$size"); expect 400 "$out" "inclusion past"
out=$(as yuhang "$base/v1/ledger/proof/consistency?from=3&to=$size"); expect 200 "$out" "consistency"
body "$out" | grep -q "^{\"from\":3,\"to\":$size,\"hashes\":\[\"" || fail "consistency: $out"
out=$(as yuhang "$base/v1/ledger/proof/consistency?from=9&to=3"); expect 400 "$out" "consistency backwards"
out=$(as kecheng "$base/v1/agreements/kecheng-yuhang/periods/2026-03"); expect 200 "$out" "period"
body "$out" | python3 -c '
import json, sys
p = json.load(sys.stdin)
assert p["status"] == "settled" and len(p["entries"]) >= 3, p
' || fail "period: $out"
out=$(as kecheng "$base/v1/agreements/nothing/periods/2026-03"); expect 404 "$out" "unknown agreement"

# Reload: a rules change that rewrites a settled term is vetoed; a new
# agreement is written to the ledger.
sed -i 's/{ from = "2022-07"; home = "50%"/{ from = "2022-07"; home = "40%"/' "$d/rules/kecheng-yuhang.conf"
kill -HUP "$DPID"
wait_log 'reload refused: .*kecheng-yuhang'
out=$(as auditor "$base/v1/ledger/checkpoint"); [ "$(body "$out")" = "$(cat "$cp_file")" ] || fail "vetoed reload wrote"
cp "$TOP/tests/cases/example-kecheng-yuhang-2026/rules/kecheng-yuhang.conf" "$d/rules/kecheng-yuhang.conf"
cmp -s "$d/rules/kecheng-yuhang.conf" "$TOP/rules/kecheng-yuhang.conf" || cp "$TOP/rules/kecheng-yuhang.conf" "$d/rules/"
sed 's/^id *= *"kecheng-yuhang"/id = "kecheng-yuhang-b"/' "$d/rules/kecheng-yuhang.conf" > "$d/rules/kecheng-yuhang-b.conf"
kill -HUP "$DPID"
i=0
until out=$(as auditor "$base/v1/ledger/checkpoint") && [ "$(body "$out" | sed -n 2p)" = $((size + 1)) ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "no rules entry after reload"; sleep 0.05
done
fetch auditor "$base/v1/ledger/checkpoint" "$cp_file"
size=$((size + 1))
out=$(as auditor "$base/v1/ledger/entries?start=$((size - 1))&end=$size")
body "$out" | grep -q '"agreement":"kecheng-yuhang-b".*"type":"rules"' || fail "rules entry: $out"
fetch auditor "$base/v1/ledger/entries?start=0&end=$size" "$T/entries.jsonl"

# Restart: the same ledger byte for byte, the same checkpoint, and the
# first receipts again for resubmissions.
kill -TERM "$DPID"
wait_exit "$DPID" 10 || fail "shanhaid did not stop"
start_daemon "$c"
fetch auditor "$base/v1/ledger/checkpoint" "$T/checkpoint2"
cmp -s "$cp_file" "$T/checkpoint2" || fail "checkpoint changed over a restart"
fetch auditor "$base/v1/ledger/entries?start=0&end=$size" "$T/entries2.jsonl"
cmp -s "$T/entries.jsonl" "$T/entries2.jsonl" || fail "ledger changed over a restart"
out=$(post yuhang "$T/r2.json"); expect 200 "$out" "resubmission after restart"
[ "$(body "$out")" = "$(cat "$T/r2.receipt.json")" ] || fail "receipt after restart differs"
echo "ingest: $n reports, $size entries"
