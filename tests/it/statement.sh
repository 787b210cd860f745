#!/bin/sh
# shanhai statement on the example ledgers (as `shanhai settle` prints them):
# every period's figures and the totals must equal an independent sum
# (Python, Decimal) of the settlement and adjustment entries; the table and
# CSV carry the same numbers; exit statuses follow shanhai(1).
set -eu
BUILD=${BUILD:-build}
SH=$BUILD/shanhai
T=${TMPDIR:-/tmp}

check() {	# case agreement year
	# The entries file is what `shanhai settle` makes of the case's reports.
	entries=$T/$1.jsonl
	[ -f "$entries" ] || "$SH" settle --rules "tests/cases/$1/rules" \
		"tests/cases/$1/reports.jsonl" > "$entries"
	"$SH" statement --agreement "$2" --year "$3" --entries "$entries" \
		--format json > "$T/st.json"
	"$SH" statement --agreement "$2" --year "$3" --entries "$entries" \
		--format csv > "$T/st.csv"
	"$SH" statement --agreement "$2" --year "$3" --entries "$entries" \
		> "$T/st.txt"
	python3 - "$entries" "$2" "$3" "$T/st.json" "$T/st.csv" "$T/st.txt" <<'EOF'
import csv, json, sys
from decimal import Decimal
entries, agreement, year, jpath, cpath, tpath = sys.argv[1:]
F = ["base", "home", "host", "floor_topup"]
want = {}
for line in open(entries):
    e = json.loads(line)
    if e.get("agreement") != agreement or not e.get("period", "").startswith(year):
        continue
    if e["type"] == "settlement":
        assert e["period"] not in want
        want[e["period"]] = {f: Decimal(e[f]) for f in F}
        want[e["period"]]["ben"] = {k: Decimal(v) for k, v in e["beneficiaries"].items()}
    elif e["type"] == "adjustment":
        w = want[e["period"]]
        for f in F:
            w[f] += Decimal(e[f])
        for k, v in e["beneficiaries"].items():
            w["ben"][k] += Decimal(v)
got = json.load(open(jpath))
assert got["agreement"] == agreement and got["year"] == int(year)
settled = [p for p in got["periods"] if p["status"] == "settled"]
assert sorted(p["period"] for p in settled) == sorted(want), (settled, want)
tot = {f: Decimal(0) for f in F}
for p in settled:
    w = want[p["period"]]
    for f in F:
        assert Decimal(p[f]) == w[f], (p["period"], f, p[f], w[f])
        assert p[f] == "%.2f" % w[f]
        tot[f] += w[f]
    assert {k: Decimal(v) for k, v in p["beneficiaries"].items()} == w["ben"]
    assert Decimal(p["home"]) + Decimal(p["host"]) == Decimal(p["base"])
for f in F:
    assert Decimal(got["totals"][f]) == tot[f], (f, got["totals"][f], tot[f])
rows = list(csv.DictReader(open(cpath)))
assert [r["period"] for r in rows] == [p["period"] for p in got["periods"]] + ["total"]
for r in rows:
    src = got["totals"] if r["period"] == "total" else \
        next(p for p in got["periods"] if p["period"] == r["period"])
    for f in F:
        assert r[f] == (src[f] or ""), (r, f)
table = open(tpath).read().splitlines()
total = next(l for l in table if l.startswith("total"))
assert got["totals"]["base"] in total.split() and got["totals"]["home"] in total.split()
print("%s %s: %d periods, base %s, home %s, host %s" % (agreement, year,
      len(settled), got["totals"]["base"], got["totals"]["home"], got["totals"]["host"]))
EOF
}

check example-kecheng-yuhang-2026 kecheng-yuhang 2026
check example-longquan-xiaoshan-2026 longquan-xiaoshan 2026
check example-qujiang-yinzhou-2023-2024 qujiang-yinzhou 2023
check example-qujiang-yinzhou-2023-2024 qujiang-yinzhou 2024
check spec-example-2 ex-bands 2026

# The floor of kecheng-yuhang's 2022-07 term: 1,500,000.00 for the year.
"$SH" statement --agreement kecheng-yuhang --year 2026 --format csv \
	--entries tests/cases/example-kecheng-yuhang-2026/expected.jsonl |
	grep -q '^kecheng-yuhang,2026,total,,,2916035.23,1500000.00,1416035.23,41982.38,'

# Mid-dispute: Q2 disputed, Q3 waiting behind it.
head -8 tests/cases/example-longquan-xiaoshan-2026/expected.jsonl > "$T/lq8"
"$SH" statement --agreement longquan-xiaoshan --year 2026 --entries "$T/lq8" \
	--format csv > "$T/lq8.csv"
grep -q '^longquan-xiaoshan,2026,2026-Q2,disputed,' "$T/lq8.csv"
grep -q '^longquan-xiaoshan,2026,2026-Q3,waiting,' "$T/lq8.csv"

# Exit statuses: 1 nothing for that agreement or a bad entry, 2 usage or I/O.
st() { set +e; "$SH" statement "$@" >/dev/null 2>"$T/err"; rc=$?; set -e; echo $rc; }
[ "$(st --agreement nope --year 2026 --entries tests/cases/spec-example-1/expected.jsonl)" = 1 ]
grep -q "no entries for agreement 'nope' in 2026" "$T/err"
echo '{"type":"settlement","agreement":"x","period":"2026-01","base":1}' > "$T/bad"
[ "$(st --agreement x --year 2026 --entries "$T/bad")" = 1 ]
grep -q "$T/bad:1: 'base' is not an amount" "$T/err"
[ "$(st --agreement x --year 2026 --entries "$T/missing")" = 2 ]
[ "$(st --agreement x --year 2026 --entries "$T/bad" --format xml)" = 2 ]
[ "$(st --agreement x --entries "$T/bad")" = 2 ]
echo "statement: ok"
