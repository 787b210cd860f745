#!/bin/sh
# shanhai-api(7) against a running daemon: every problem+json example of the
# page is an answer the daemon gives to a request made here, byte for byte,
# and every answer made here is in the page; the example report and the
# example correction are accepted; the fields the page lists for a receipt
# and a period's status are the ones the daemon answers with.
. "$TOP/tests/itlib.sh"
PAGE=$TOP/man/shanhai-api.7
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
start_daemon "$c"
base=https://127.0.0.1:$port
cases=$TOP/tests/cases/example-kecheng-yuhang-2026

# req NAME ARGS...: curl as NAME ("none": no certificate); the body in
# $T/body, the status printed.
req() {
	n=$1; shift
	if [ "$n" = none ]; then
		set -- --cacert "$T/pki/ca.crt" "$@"
	else
		set -- --cacert "$T/pki/ca.crt" --cert "$T/pki/$n.crt" \
		    --key "$T/pki/$n.key" "$@"
	fi
	curl -s -o "$T/body" -w '%{http_code}' "$@"
}
json() { set -- "$@" -H 'Content-Type: application/json'; req "$@"; }
# problem CODE NAME ARGS...: the answer must be CODE and problem+json; its
# body joins the answers the page must show.
problem() {
	want=$1; shift
	got=$(req "$@")
	[ "$got" = "$want" ] || fail "$*: $got, not $want: $(cat "$T/body")"
	grep -q "\"status\":$want," "$T/body" || fail "$*: not a problem: $(cat "$T/body")"
	{ cat "$T/body"; echo; } >>"$T/live"
}
: >"$T/live"

# The first report of kecheng-yuhang: the ledger then holds its three rules
# entries, the report and its settlement (5 entries, as the page shows).
sed -n 1p "$cases/reports.jsonl" >"$T/r1.json"
[ "$(json yuhang --data-binary @"$T/r1.json" "$base/v1/reports")" = 201 ] ||
	fail "first report: $(cat "$T/body")"
cp "$T/body" "$T/receipt.json"
[ "$(json yuhang --data-binary @"$T/r1.json" "$base/v1/reports")" = 200 ] ||
	fail "resubmission: $(cat "$T/body")"
cmp -s "$T/body" "$T/receipt.json" || fail "resubmission: not the first receipt"

python3 - "$T" <<'EOF'
import json, sys
t = sys.argv[1]
r = json.load(open(t + "/r1.json"))
def put(name, doc):
    open(t + "/" + name, "w").write(json.dumps(doc))
put("r-number.json", dict(r, taxes=dict(r["taxes"], vat=1.5)))
put("r-period.json", dict(r, period="2026-13"))
put("r-unknown.json", dict(r, note="x"))
put("r-other.json", dict(r, taxes=dict(r["taxes"], vat="1.00")))
put("r-again.json", dict(r, report_id="yh-2026-01b"))
open(t + "/big.json", "w").write('{"x":"' + "a" * 70000 + '"}')
EOF
P=$base/v1/reports
J='Content-Type: application/json'
problem 400 yuhang -H "$J" --data-binary nope "$P"
problem 400 auditor "$base/v1/ledger/entries?start=3"
problem 400 auditor "$base/v1/ledger/entries?start=x&end=2"
problem 400 auditor "$base/v1/ledger/entries?start=3&end=2"
problem 400 auditor "$base/v1/ledger/entries?start=0&end=99"
problem 400 yuhang "$base/v1/ledger/proof/inclusion?index=5&size=5"
problem 400 yuhang "$base/v1/ledger/proof/inclusion?index=1&size=9"
problem 400 yuhang "$base/v1/ledger/proof/consistency?from=6&to=5"
problem 400 yuhang "$base/v1/agreements/kecheng-yuhang/periods/2040-02"
problem 403 none -H "$J" --data-binary @"$T/r1.json" "$P"
problem 403 auditor -H "$J" --data-binary @"$T/r1.json" "$P"
problem 403 kecheng -H "$J" --data-binary @"$T/r1.json" "$P"
problem 404 yuhang "$base/v1/nothing"
problem 404 yuhang "$base/v1/agreements/nope/periods/2026-01"
problem 405 yuhang -X DELETE "$P"
problem 409 yuhang -H "$J" --data-binary @"$T/r-other.json" "$P"
problem 409 yuhang -H "$J" --data-binary @"$T/r-again.json" "$P"
problem 413 yuhang -H "$J" --data-binary @"$T/big.json" "$P"
problem 415 yuhang -H 'Content-Type: text/plain' --data-binary @"$T/r1.json" "$P"
problem 417 yuhang -H "$J" -H 'Expect: bogus' --data-binary @"$T/r1.json" "$P"
problem 422 yuhang -H "$J" --data-binary @"$T/r-number.json" "$P"
problem 422 yuhang -H "$J" --data-binary @"$T/r-period.json" "$P"
problem 422 yuhang -H "$J" --data-binary @"$T/r-unknown.json" "$P"
problem 501 yuhang -X FOO "$P"

# The success answers the page describes: its fields.
[ "$(req yuhang "$base/v1/agreements/kecheng-yuhang/periods/2026-01")" = 200 ] ||
	fail "period: $(cat "$T/body")"
cp "$T/body" "$T/period.json"
[ "$(req yuhang "$base/v1/ledger/proof/inclusion?index=3&size=5")" = 200 ] || fail "inclusion"
cp "$T/body" "$T/inclusion.json"
[ "$(req yuhang "$base/v1/ledger/proof/consistency?from=2&to=5")" = 200 ] || fail "consistency"
cp "$T/body" "$T/consistency.json"
python3 - "$T" "$PAGE" <<'EOF' || fail "the page's fields differ from the answers"
import json, re, sys
t, page = sys.argv[1], open(sys.argv[2]).read()
bad = 0
def section(name):
    m = re.search(r"^\.S[hs] " + re.escape(name) + r".*?$(.*?)^\.S[hs] ", page, re.M | re.S)
    return m.group(1)
def fields(name, doc, listed=True):
    global bad
    text = section(name)
    keys = set(json.loads(doc))
    for k in keys:
        if listed and not re.search(r"^\.It Li (%s|.*[ ,]%s)( ,.*)?$" % (k, k), text, re.M):
            print("%s: field %s is not described" % (name, k)); bad = 1
    # The example in the section has exactly the answer's keys.
    ex = re.search(r"^\.Bd -literal.*?\n(\{.*?)^\.Ed", text, re.M | re.S).group(1)
    shown = set(re.findall(r'[{,]\s*"([a-z_]+)":', ex.replace("\n", "")))
    top = {k for k in shown if re.search(r'(^\{|,)\s*"%s":' % k, ex.replace("\n", ""))}
    if not keys <= top:
        print("%s: the example lacks %s" % (name, sorted(keys - top))); bad = 1
fields("RECEIPTS", open(t + "/receipt.json").read())
fields("GET /v1/agreements/{id}/periods/{period}", open(t + "/period.json").read())
fields("GET /v1/ledger/proof/inclusion", open(t + "/inclusion.json").read(), False)
fields("GET /v1/ledger/proof/consistency", open(t + "/consistency.json").read(), False)
sys.exit(bad)
EOF

# The example report and correction of the page are accepted as they are.
python3 - "$PAGE" "$T" <<'EOF'
import re, sys
page, t = open(sys.argv[1]).read(), sys.argv[2]
blocks = [b.replace("\\e", "\\") for b in
          re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed", page, re.M | re.S)]
report = [b for b in blocks if b.lstrip().startswith("{") and '"report_id"' in b]
open(t + "/example.json", "w").write(report[0])
open(t + "/correction.json", "w").write(report[1])
EOF
grep -q '"supersedes"' "$T/correction.json" || fail "no example correction"
[ "$(json yuhang --data-binary @"$T/example.json" "$P")" = 201 ] ||
	fail "the page's example report: $(cat "$T/body")"
sed -n 3p "$cases/reports.jsonl" >"$T/r3.json"
[ "$(json yuhang --data-binary @"$T/r3.json" "$P")" = 201 ] || fail "report 3: $(cat "$T/body")"
[ "$(json yuhang --data-binary @"$T/correction.json" "$P")" = 201 ] ||
	fail "the page's example correction: $(cat "$T/body")"

# 429: a client over limits.client_rate, after a reload that sets it.
sed -i 's/^log_level = "debug";/&\nlimits = { client_rate = 2; };/' "$c"
hup
i=0
until [ "$(req auditor "$base/v1/ledger/checkpoint")" = 429 ]; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "no 429 at limits.client_rate = 2"
done
{ cat "$T/body"; echo; } >>"$T/live"

# The page's examples (mdoc's \e is a backslash) and the answers: the same.
grep '^{"type":"about:blank"' "$PAGE" | sed 's/\\e/\\/g' | sort -u >"$T/page"
grep -v "^$" "$T/live" | sort -u >"$T/answers"
if ! cmp -s "$T/page" "$T/answers"; then
	echo "man/shanhai-api.7 (<) and the daemon's answers (>) differ:"
	diff "$T/page" "$T/answers" || true
	fail "the page's problem examples are not the daemon's answers"
fi
echo "api_doc: $(wc -l <"$T/answers") problem examples are the daemon's answers; examples accepted"
