#!/bin/sh
# A yearly agreement (SPEC v2, 年终结算) through the daemon: Kaihua-Tongxiang's
# reports from 2016 to 2024 submitted by Tongxiang's bureau, each answered
# with the entries `shanhai settle` gives; the period endpoint speaks of
# years ("2020"), with 2020's figures after its correction; the year's
# statement names the bureaus' codes and is approved by both sides; the
# operator's status counts its periods; and verify replays it all.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
start_daemon "$c"
base=https://127.0.0.1:$port
kt=$base/v1/agreements/kaihua-tongxiang
cases=$TOP/tests/cases/example-kaihua-tongxiang-2016-2024
k=0
while IFS= read -r line; do
	k=$((k + 1))
	printf '%s\n' "$line" > "$T/r$k.json"
	as tongxiang "$base/v1/reports" -H 'Content-Type: application/json' \
	    --data-binary @"$T/r$k.json" | tail -1 | grep -qx 201 || fail "report $k"
done < "$cases/reports.jsonl"
# A period is a year; a month is not a period of this agreement.
as kaihua "$kt/periods/2020" | sed '$d' > "$T/p2020"
python3 - "$T/p2020" "$cases/expected.jsonl" <<'EOF' || fail "period 2020: $(cat "$T/p2020")"
import json, sys
from decimal import Decimal
p = json.load(open(sys.argv[1]))
assert p["period"] == "2020" and p["status"] == "settled" and p["term"] == "2019", p
base = sum(Decimal(e["base"]) for e in map(json.loads, open(sys.argv[2]))
           if e.get("period") == "2020" and e["type"] in ("settlement", "adjustment"))
assert Decimal(p["figures"]["base"]) == base == Decimal("5416359.96"), (p["figures"], base)
EOF
as kaihua "$kt/periods/2020-01" | tail -1 | grep -qx 400 || fail "a month of a yearly agreement"
as tongxiang "$base/v1/reports" -H 'Content-Type: application/json' \
    -d '{"report_id":"m","agreement":"kaihua-tongxiang","period":"2025-01","role":"host","taxes":{}}' \
    > "$T/m"
tail -1 "$T/m" | grep -qx 422 || fail "a monthly period: $(cat "$T/m")"
grep -q 'is not a yearly period (YYYY)' "$T/m" || fail "the 422 does not say why: $(cat "$T/m")"

# The year 2022 (bands and VAT retained at 50%): statement, both approve.
for b in tongxiang kaihua; do
	"$BUILD/shanhai" approve --url "$base" --cert "$T/pki/$b.crt" --key "$T/pki/$b.key" \
	    --cacert "$T/pki/ca.crt" --agreement kaihua-tongxiang --year 2022 --yes \
	    > "$T/ap.$b" 2>&1 || fail "approve as $b: $(cat "$T/ap.$b")"
done
grep -q '"status":"approved"' "$T/ap.kaihua" || fail "2022 not approved: $(cat "$T/ap.kaihua")"
as auditor "$kt/years/2022/statement" | sed '$d' > "$T/s"
python3 - "$T/s" <<'EOF' || fail "statement 2022: $(cat "$T/s")"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["statement"]
assert d["status"] == "approved" and s["year"] == "2022", d["status"]
assert (s["home"], s["host"]) == ("330824", "330483"), s
assert [p["period"] for p in s["periods"]] == ["2022"], s["periods"]
assert s["total"]["home"] == "2029927.50" and s["total"]["base"] == "6766425.00", s["total"]
assert s["total"]["statistics"]["visitors"] == {"home": "1448582.67", "host": "1448582.67"}
EOF
# The operator sees its nine years, all settled.
"$BUILD/shanhai" status --url "$base" --cert "$T/pki/operator.crt" --key "$T/pki/operator.key" \
    --cacert "$T/pki/ca.crt" --format json > "$T/status.json" || fail "status"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
a = [x for x in d["agreements"] if x["id"] == "kaihua-tongxiang"][0]
assert a["periods"] == {"disputed": 0, "settled": 9, "waiting": 0}, a' "$T/status.json" ||
    fail "status: $(cat "$T/status.json")"
# And the auditor's replay takes all of it.
as auditor "$base/v1/ledger/checkpoint" | sed '$d' | sed '${/^$/d;}' > "$T/cp"
size=$(sed -n 2p "$T/cp")
as auditor "$base/v1/ledger/entries?start=0&end=$size" | sed '$d' | sed '/^$/d' > "$T/entries"
"$BUILD/shanhai" verify --vkey "$T/etc/ledger.key.vkey" --checkpoint "$T/cp" \
    --entries "$T/entries" > "$T/v" 2>&1 || fail "verify: $(cat "$T/v")"
echo "yearly: $k reports, periods are years, 2022 approved by both sides, verified"
