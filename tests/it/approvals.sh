#!/bin/sh
# The year-end (SPEC §5a, §7) against the real daemon: the statement of a
# year, computed by the daemon, equals one computed here from the ledger's
# own entries (settlement plus adjustments, field by field, canonical JSON,
# SHA-256); approvals by both sides with every status code; a correction
# after approval turns the year to "changed"; re-approval; a bureau sees only
# its own agreements; the auditor's replay accepts the approvals and refuses
# a forged one, naming the entry.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
start_daemon "$c"
base=https://127.0.0.1:$port
ky=$base/v1/agreements/kecheng-yuhang
json() { as "$@" -H 'Content-Type: application/json'; }
code() { tail -1; }
body() { sed '$d'; }

# Kecheng-Yuhang's 2026 up to November, with March corrected after June.
n=0
grep -v '"yh-2026-12"' "$TOP/tests/cases/example-kecheng-yuhang-2026/reports.jsonl" |
while IFS= read -r line; do
	n=$((n + 1))
	printf '%s\n' "$line" > "$T/r$n.json"
	json yuhang "$base/v1/reports" --data-binary @"$T/r$n.json" | code |
	    grep -qx 201 || fail "report $n"
done

# December is missing: the year is incomplete, and cannot be approved.
as yuhang "$ky/years/2026/statement" > "$T/s0"
code < "$T/s0" | grep -qx 200 || fail "statement of an incomplete year: $(cat "$T/s0")"
body < "$T/s0" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d == {"statement": None, "sha256": None, "status": "incomplete",
             "approvals": {"host": None, "home": None}}, d' || fail "incomplete answer"
json yuhang "$ky/years/2026/approvals" -d "{\"statement\":\"$(printf '%064d' 0)\"}" > "$T/a0"
code < "$T/a0" | grep -qx 409 || fail "approval of an incomplete year: $(cat "$T/a0")"
grep -q incomplete "$T/a0" || fail "409 does not say the year is incomplete"

grep '"yh-2026-12"' "$TOP/tests/cases/example-kecheng-yuhang-2026/reports.jsonl" > "$T/dec.json"
json yuhang "$base/v1/reports" --data-binary @"$T/dec.json" | code | grep -qx 201 ||
    fail "December"

# The statement, as the auditor and as each side see it, and as computed here
# from the entries the auditor fetches.
fetch() {
	as auditor "$base/v1/ledger/checkpoint" | body | sed '${/^$/d;}' > "$T/cp"
	size=$(sed -n 2p "$T/cp")
	as auditor "$base/v1/ledger/entries?start=0&end=$size" | body | sed "/^$/d" > "$T/entries"
}
check_statement() {	# WHO FILE: the statement WHO gets, checked against the ledger
	as "$1" "$ky/years/2026/statement" > "$T/$2.raw"
	code < "$T/$2.raw" | grep -qx 200 || fail "statement as $1: $(cat "$T/$2.raw")"
	body < "$T/$2.raw" > "$T/$2"
	fetch
	# The reference sums the fetched entries itself (tests/ref/statement.py).
	python3 "$TOP/tests/ref/statement.py" "$T/entries" "$TOP/rules" \
	    kecheng-yuhang 2026 > "$T/$2.want" || fail "the reference: year incomplete"
	python3 - "$T/$2" "$T/$2.want" <<'EOF' || fail "statement as $1 differs from the ledger"
import json, sys
got, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert got["statement"] == want["statement"], (got["statement"], want["statement"])
assert got["sha256"] == want["sha256"], (got["sha256"], want["sha256"])
print(got["sha256"])
EOF
}
check_statement auditor s1
h1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$T/s1")
grep -q '"status":"pending"' "$T/s1" || fail "a complete year without approvals is pending"
check_statement yuhang s1y
check_statement kecheng s1k
cmp -s "$T/s1" "$T/s1k" || fail "the two sides see different statements"

# The documents, by Accept and by ?format= (for links), in both languages.
as kecheng "$ky/years/2026/statement" -H 'Accept: application/pdf' -o "$T/s.pdf" |
    code | grep -qx 200 || fail "PDF by Accept"
pdftotext "$T/s.pdf" - | grep -q "$(echo "$h1" | cut -c1-16)" || fail "the PDF lacks the hash"
pdftotext "$T/s.pdf" - | grep -q '2,916,035.23' || fail "the PDF lacks the total"
as yuhang "$ky/years/2026/statement" -o "$T/s.xlsx" \
    -H 'Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' |
    code | grep -qx 200 || fail "XLSX by Accept"
[ "$(head -c 2 "$T/s.xlsx")" = PK ] || fail "the XLSX is not a zip"
as auditor "$ky/years/2026/statement?format=csv&lang=en" -D "$T/h" -o "$T/s.csv" |
    code | grep -qx 200 || fail "CSV by ?format"
grep -qi '^content-disposition: attachment; filename="kecheng-yuhang-2026-en.csv"' "$T/h" ||
    fail "CSV headers: $(cat "$T/h")"
grep -q '2916035.23' "$T/s.csv" || fail "the CSV lacks the total"
as auditor "$ky/years/2026/statement?format=json" | body | python3 -c '
import json, sys; d = json.load(sys.stdin); assert d["sha256"] == sys.argv[1], d' "$h1" ||
    fail "the JSON document"
as auditor "$ky/years/2026/statement" -H 'Accept: image/png' | code | grep -qx 406 ||
    fail "an unknown Accept is not 406"
as auditor "$ky/years/2026/statement?format=doc" | code | grep -qx 400 || fail "bad format"
as auditor "$ky/years/2026/statement?lang=fr&format=pdf" | code | grep -qx 400 || fail "bad lang"
as auditor "$ky/years/2027/statement?format=pdf" | code | grep -qx 409 ||
    fail "an incomplete year's document is not 409"

# A bureau of another agreement sees nothing of it.
as longquan "$base/v1/agreements" | body | grep -q kecheng-yuhang &&
    fail "longquan sees kecheng-yuhang in /v1/agreements"
as longquan "$base/v1/agreements" | body | grep -q longquan-xiaoshan ||
    fail "longquan does not see its own agreement"
as auditor "$base/v1/agreements" | body | grep -q kecheng-yuhang ||
    fail "the auditor does not see every agreement"
for u in "$ky/years/2026/statement" "$ky/periods/2026-03"; do
	as longquan "$u" | code | grep -qx 404 || fail "longquan reads $u"
done
json longquan "$ky/years/2026/approvals" -d "{\"statement\":\"$h1\"}" | code | grep -qx 404 ||
    fail "longquan may approve kecheng-yuhang"
# Neither may an auditor approve, nor a bureau name the other side.
json auditor "$ky/years/2026/approvals" -d "{\"statement\":\"$h1\"}" | code | grep -qx 403 ||
    fail "the auditor may approve"
json yuhang "$ky/years/2026/approvals" -d "{\"statement\":\"$h1\",\"role\":\"home\"}" |
    code | grep -qx 403 || fail "yuhang may approve as the home side"
# Bad requests.
json yuhang "$ky/years/2026/approvals" -d '{"statement":"nothex"}' | code | grep -qx 422 ||
    fail "a bad hash is not 422"
json yuhang "$ky/years/2026/approvals" -d "{\"statement\":\"$h1\",\"x\":1}" | code |
    grep -qx 422 || fail "an unknown field is not 422"
json yuhang "$ky/years/2026/approvals" -d '{' | code | grep -qx 400 || fail "not JSON is not 400"
as yuhang "$ky/years/2026/approvals" -d "{\"statement\":\"$h1\"}" -H 'Content-Type: text/plain' |
    code | grep -qx 415 || fail "text/plain is not 415"
json yuhang "$ky/years/1999/approvals" -d "{\"statement\":\"$h1\"}" | code | grep -qx 404 ||
    fail "a year outside the agreement is not 404"
json yuhang "$ky/years/2026/approvals" -d "{\"statement\":\"$(printf '%064d' 0)\"}" > "$T/a1"
code < "$T/a1" | grep -qx 409 || fail "a stale hash is not 409: $(cat "$T/a1")"
grep -q "$h1" "$T/a1" || fail "the 409 does not name the current hash"

# The host side approves: 201, a receipt of the approval entry; again: 200,
# the same receipt; the year is pending until the home side approves.
json yuhang "$ky/years/2026/approvals" -d "{\"statement\":\"$h1\"}" > "$T/a2"
code < "$T/a2" | grep -qx 201 || fail "host approval: $(cat "$T/a2")"
body < "$T/a2" > "$T/receipt.host"
grep -q "\"statement\":\"$h1\"" "$T/receipt.host" || fail "receipt does not name the statement"
grep -q '"status":"pending"' "$T/receipt.host" || fail "after one side: $(cat "$T/receipt.host")"
json yuhang "$ky/years/2026/approvals" -d "{\"statement\":\"$h1\"}" > "$T/a3"
code < "$T/a3" | grep -qx 200 || fail "a repeated approval is not 200"
body < "$T/a3" | cmp -s - "$T/receipt.host" || fail "a repeat answers another receipt"
json kecheng "$ky/years/2026/approvals" -d "{\"statement\":\"$h1\"}" > "$T/a4"
code < "$T/a4" | grep -qx 201 || fail "home approval: $(cat "$T/a4")"
grep -q '"status":"approved"' "$T/a4" || fail "after both sides: $(cat "$T/a4")"
as auditor "$ky/years/2026/statement" | body > "$T/s2"
python3 - "$T/s2" "$h1" <<'EOF' || fail "approved statement"
import json, sys
d = json.load(open(sys.argv[1])); h = sys.argv[2]
assert d["status"] == "approved", d["status"]
for side in ("host", "home"):
    a = d["approvals"][side]
    assert a["statement"] == h and isinstance(a["index"], int) and a["time"].endswith("Z"), a
EOF
# The receipt proves the approval entry is in the ledger.
fetch
"$BUILD/shanhai" verify --vkey "$T/etc/ledger.key.vkey" --checkpoint "$T/cp" \
    --receipt "$T/receipt.host" > "$T/vr" 2>&1 || fail "approval receipt: $(cat "$T/vr")"

# A correction of October after approval: the statement changes, the year
# is "changed", the old approvals stay, and both sides approve again.
python3 - "$TOP/tests/cases/example-kecheng-yuhang-2026/reports.jsonl" > "$T/oct.json" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["report_id"] == "yh-2026-10":
        r["supersedes"] = r["report_id"]; r["report_id"] = "yh-2026-10-r1"
        r["deductions"] = "1000.00"
        print(json.dumps(r))
EOF
json yuhang "$base/v1/reports" --data-binary @"$T/oct.json" | code | grep -qx 201 ||
    fail "October's correction"
check_statement auditor s3
h2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$T/s3")
[ "$h2" != "$h1" ] || fail "the correction did not change the statement"
grep -q '"status":"changed"' "$T/s3" || fail "after a correction: $(cat "$T/s3")"
json kecheng "$ky/years/2026/approvals" -d "{\"statement\":\"$h1\"}" | code | grep -qx 409 ||
    fail "the old hash is still accepted"
json kecheng "$ky/years/2026/approvals" -d "{\"statement\":\"$h2\"}" > "$T/a5"
grep -q '"status":"changed"' "$T/a5" || fail "one side re-approved: $(cat "$T/a5")"
json yuhang "$ky/years/2026/approvals" -d "{\"statement\":\"$h2\"}" > "$T/a6"
grep -q '"status":"approved"' "$T/a6" || fail "both re-approved: $(cat "$T/a6")"

# The auditor's replay checks every approval; a forged one fails, named.
fetch
"$BUILD/shanhai" verify --vkey "$T/etc/ledger.key.vkey" --checkpoint "$T/cp" \
    --entries "$T/entries" > "$T/v" 2>&1 || fail "verify: $(cat "$T/v")"
"$BUILD/shanhai" verify --vkey "$T/etc/ledger.key.vkey" --checkpoint "$T/cp" \
    --entries "$T/entries" --receipt "$T/receipt.host" > "$T/v" 2>&1 ||
    fail "receipt against the replay: $(cat "$T/v")"
sed 's/"status":"pending"/"status":"approved"/' "$T/receipt.host" > "$T/receipt.edited"
if "$BUILD/shanhai" verify --vkey "$T/etc/ledger.key.vkey" --checkpoint "$T/cp" \
    --entries "$T/entries" --receipt "$T/receipt.edited" > "$T/v" 2>&1; then
	fail "an edited approval receipt verified"
fi
grep -q 'status: "approved", but the replay gives "pending"' "$T/v" ||
    fail "edited receipt: $(cat "$T/v")"
n=$(grep -c '"type":"approval"' "$T/entries")
[ "$n" = 4 ] || fail "$n approval entries, want 4"
python3 - "$T/entries" "$h1" > "$T/forged" <<'EOF'
import sys
lines = open(sys.argv[1]).read().split("\n")
last = max(i for i, l in enumerate(lines) if '"type":"approval"' in l)
lines[last] = lines[last].replace(lines[last].split('"statement":"')[1][:64], sys.argv[2])
print("\n".join(lines), end="")
print(last, file=sys.stderr)
EOF
"$BUILD/shanhai" fixture sign --key "$T/etc/ledger.key" --origin test.example/shanhai \
    "$T/forged" > "$T/cpf"
if "$BUILD/shanhai" verify --vkey "$T/etc/ledger.key.vkey" --checkpoint "$T/cpf" \
    --entries "$T/forged" > "$T/vf" 2>&1; then
	fail "a forged approval verified"
fi
at=$(grep -n '"type":"approval"' "$T/forged" | tail -1 | cut -d: -f1)
grep -q "entry $((at - 1)).*not the current statement" "$T/vf" ||
    fail "the forged approval is not named: $(cat "$T/vf")"

# shanhai approve: shows the totals and the hash, asks, approves; a stale
# year (after another correction) is refused with the current hash shown.
tlsargs() { echo --url "$base" --cert "$T/pki/$1.crt" --key "$T/pki/$1.key" --cacert "$T/pki/ca.crt"; }
echo n | "$BUILD/shanhai" approve $(tlsargs yuhang) --agreement kecheng-yuhang --year 2026 \
    > "$T/ap.out" 2> "$T/ap.err" && fail "approve went on after no"
grep -q "sha256 $h2" "$T/ap.out" || fail "approve did not show the hash: $(cat "$T/ap.out")"
grep -q "not approved" "$T/ap.err" || fail "approve after no: $(cat "$T/ap.err")"
"$BUILD/shanhai" approve $(tlsargs yuhang) --agreement kecheng-yuhang --year 2026 --yes \
    > "$T/ap.out" 2> "$T/ap.err" || fail "approve --yes: $(cat "$T/ap.err")"
grep -q "already approved (200)" "$T/ap.err" || fail "approve again: $(cat "$T/ap.err")"
rc=0
"$BUILD/shanhai" approve $(tlsargs longquan) --agreement kecheng-yuhang --year 2026 --yes \
    > /dev/null 2> "$T/ap.err" || rc=$?
[ $rc = 1 ] || fail "approve of another's agreement exits $rc, not 1"
rc=0
"$BUILD/shanhai" approve $(tlsargs yuhang) --agreement kecheng-yuhang --year 2027 --yes \
    > /dev/null 2> "$T/ap.err" || rc=$?
[ $rc = 1 ] || fail "approve of an incomplete year exits $rc, not 1"
grep -q "no statement yet" "$T/ap.err" || fail "incomplete: $(cat "$T/ap.err")"

# A restart replays the approvals: the year is as it was.
kill "$DPID"; wait "$DPID" 2>/dev/null || true
start_daemon "$c"
as auditor "$ky/years/2026/statement" | body > "$T/s4"
grep -q '"status":"approved"' "$T/s4" || fail "after restart: $(cat "$T/s4")"
echo "approvals: statement from the ledger, 409/403/404/422/400/415, both sides, changed, re-approved, verify"
