#!/bin/sh
# shanhai export: the examples' ledgers (tests/documents/*.jsonl, what
# `shanhai settle` prints for the examples) as beancount and hledger
# journals. bean-check and `hledger check -s` must accept them; every
# account's balance per fiscal year (bean-query, hledger bal) must equal an
# independent sum (Python, Decimal) of the settlement and adjustment entries
# of that year, and the statement totals of the fixture model; every
# settlement and adjustment is one transaction carrying its entry index.
set -eu
BUILD=${BUILD:-build}
SH=$BUILD/shanhai
T=${TMPDIR:-/tmp}
D=tests/documents

for e in kecheng-yuhang-2026 longquan-xiaoshan-2026 kaihua-tongxiang-2016-2024 \
    qujiang-yinzhou-2023-2024; do
	"$SH" export --format beancount --entries "$D/$e.jsonl" \
		--rules "$D/rules" > "$T/$e.bean"
	"$SH" export --format hledger --entries "$D/$e.jsonl" \
		--rules "$D/rules" > "$T/$e.journal"
	bean-check "$T/$e.bean"
	hledger -f "$T/$e.journal" check -s
	years=$(python3 -c 'import json, sys
print(" ".join(sorted({json.loads(l)["period"][:4] for l in open(sys.argv[1])
    if json.loads(l)["type"] in ("settlement", "adjustment")})))' "$D/$e.jsonl")
	for y in $years; do
		bean-query -f csv "$T/$e.bean" "SELECT account, sum(number) AS \
total WHERE year = $y GROUP BY account ORDER BY account" > "$T/$e.$y.bq"
		hledger -f "$T/$e.journal" bal -O csv -p $y --no-total \
			> "$T/$e.$y.hl"
	done
	python3 - "$D/$e.jsonl" "$T/$e" "$T/$e.bean" $years <<'EOF'
import csv, json, re, sys
from collections import defaultdict
from decimal import Decimal

entries, base, bean = sys.argv[1:4]
years = sys.argv[4:]
want = defaultdict(Decimal)     # (year, kind, agreement, beneficiary)
indexes = []
for i, line in enumerate(open(entries)):
    e = json.loads(line)
    if e["type"] not in ("settlement", "adjustment"):
        continue
    indexes.append(i)
    y, a = e["period"][:4], e["agreement"]
    want[(y, "base", a, "")] -= Decimal(e["base"])
    want[(y, "host", a, "")] += Decimal(e["host"])
    if e["beneficiaries"]:
        for b, v in e["beneficiaries"].items():
            want[(y, "ben", a, b)] += Decimal(v)
    else:
        want[(y, "home", a, "")] += Decimal(e["home"])

def kind_bean(acct):
    m = re.match(r"^(Income|Assets):Shanhai:([^:]+):(Base|Home|Host)[^:]*(?::(.*))?$", acct)
    k = {"Base": "base", "Host": "host", "Home": "ben" if m.group(4) else "home"}[m.group(3)]
    return k, m.group(2).lower(), (m.group(4) or "").lower()

def kind_hl(acct):
    p = acct.split(":")
    if p[0] == "收入":
        return "base", p[2], ""
    if len(p) == 4:
        return "ben", p[1], p[3].removeprefix("受益 ")
    return ("home" if p[2].startswith("飞出地") else "host"), p[1], ""

for y in years:
    w = {k[1:]: v for k, v in want.items() if k[0] == y and v != 0}
    got = {}
    for r in list(csv.reader(open("%s.%s.bq" % (base, y))))[1:]:
        v = Decimal(r[1].strip())
        if v != 0:
            got[kind_bean(r[0].strip())] = v
    # beancount's ids are capitalised and ASCII: compare case-folded.
    wl = {(k, a.lower(), b.lower()): v for (k, a, b), v in w.items()}
    assert got == wl, ("bean-query", y, got, wl)
    got = {}
    for r in list(csv.reader(open("%s.%s.hl" % (base, y))))[1:]:
        v = Decimal(r[1].replace(" CNY", "").replace(",", "") or "0")
        if v != 0:
            got[kind_hl(r[0])] = v
    assert got == w, ("hledger bal", y, got, w)

# One transaction per settlement or adjustment, with its entry index.
got = [int(m) for m in re.findall(r"^  index: ([0-9]+)$", open(bean).read(), re.M)]
assert got == indexes, (got, indexes)
print("%s: %d transactions, years %s balance" % (entries, len(got), " ".join(years)))
EOF
done

# The statement's totals: the home and host balances of kecheng-yuhang 2026.
python3 - "$D/kecheng-yuhang-2026.model.json" "$T/kecheng-yuhang-2026.2026.hl" <<'EOF'
import csv, json, sys
from decimal import Decimal
tot = json.load(open(sys.argv[1]))["statement"]["total"]
bal = {r[0]: Decimal(r[1].replace(" CNY", "")) for r in list(csv.reader(open(sys.argv[2])))[1:]}
assert bal["收入:分成基数:kecheng-yuhang"] == -Decimal(tot["base"])
assert bal["资产:kecheng-yuhang:飞入地 330110"] == Decimal(tot["host"])
for b, v in tot["beneficiaries"].items():
    assert bal["资产:kecheng-yuhang:飞出地 330802:受益 " + b] == Decimal(v), b
assert sum(bal[k] for k in bal if "飞出地" in k) == Decimal(tot["home"])
EOF

# A daemon's ledger carries the rules: names from its `rules` entry, no
# --rules needed; Chinese names in hledger accounts, in beancount's payee.
python3 - "$D/rules/kaihua-tongxiang.conf" "$D/kaihua-tongxiang-2016-2024.jsonl" \
	> "$T/with-rules.jsonl" <<'EOF'
import hashlib, json, sys
text = open(sys.argv[1], encoding="utf-8").read()
print(json.dumps({"agreement": "kaihua-tongxiang", "sha256": hashlib.sha256(
    text.encode()).hexdigest(), "text": text, "type": "rules"},
    sort_keys=True, separators=(",", ":"), ensure_ascii=False))
sys.stdout.write(open(sys.argv[2], encoding="utf-8").read())
EOF
"$SH" export --format hledger --entries "$T/with-rules.jsonl" > "$T/wr.journal"
hledger -f "$T/wr.journal" check -s
grep -q '^account 资产:kaihua-tongxiang:飞出地 330824 衢州市开化县财政局$' "$T/wr.journal"
"$SH" export --format beancount --entries "$T/with-rules.jsonl" > "$T/wr.bean"
bean-check "$T/wr.bean"
grep -q '^2016-12-31 \* "嘉兴市桐乡市财政局 → 衢州市开化县财政局" "kaihua-tongxiang 2016 ' "$T/wr.bean"
grep -q '^  index: 2$' "$T/wr.bean"	# entry 0 is now the rules entry

# Without any rules the sides are Home and Host, and the journal still checks.
"$SH" export --format beancount --entries "$D/kecheng-yuhang-2026.jsonl" > "$T/bare.bean"
bean-check "$T/bare.bean"
grep -q 'Assets:Shanhai:Kecheng-yuhang:Home:V-xinxing  47174.78 CNY' "$T/bare.bean"

# --agreement keeps one agreement of a ledger holding several.
cat "$D"/*.jsonl > "$T/all.jsonl"
"$SH" export --format hledger --entries "$T/all.jsonl" --rules "$D/rules" \
	--agreement qujiang-yinzhou > "$T/one.journal"
hledger -f "$T/one.journal" check -s
[ "$(grep -c '^account ' "$T/one.journal")" = 3 ]
! grep -q kecheng "$T/one.journal"

# Exit statuses: 1 refused input or no such agreement, 2 usage or I/O.
st() { set +e; "$SH" export "$@" >/dev/null 2>"$T/err"; rc=$?; set -e; echo $rc; }
[ "$(st --format hledger --entries "$T/all.jsonl" --agreement nope)" = 1 ]
grep -q "no settlement of agreement 'nope'" "$T/err"
echo '{"type":"settlement","agreement":"x","period":"2026-01","base":1}' > "$T/bad"
[ "$(st --format beancount --entries "$T/bad")" = 1 ]
grep -q "$T/bad:1: not a settlement entry" "$T/err"
[ "$(st --format ledger --entries "$T/bad")" = 2 ]
[ "$(st --format hledger --entries "$T/missing")" = 2 ]
[ "$(st --format hledger)" = 2 ]
echo "export: ok"
