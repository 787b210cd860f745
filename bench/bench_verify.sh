#!/bin/sh
# shanhai verify throughput on a generated ledger of about 1,000,000 entries
# (signature, canonical form, tree and full replay; target 100,000
# entries/s), then proof latency at 10,000,000 entries through the merkle
# callback API (target: under 5 ms each), over an in-memory subtree table
# and over the store's SQLite database. VERIFY_AGREEMENTS and VERIFY_PERIODS
# scale the ledger (entries = agreements * (2 * periods + 1)); PROOF_LEAVES
# and PROOF_SQLITE_LEAVES the trees (the SQLite one takes minutes to fill).
set -eu
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
SH=$TOP/$BUILD/shanhai
W=${TMPDIR:-/tmp}/bench-verify.$$
AGREEMENTS=${VERIFY_AGREEMENTS:-500}
PERIODS=${VERIFY_PERIODS:-1000}
PROOF_LEAVES=${PROOF_LEAVES:-10000000}
PROOF_SQLITE_LEAVES=${PROOF_SQLITE_LEAVES:-$PROOF_LEAVES}
mkdir -p "$W/rules"
trap 'rm -rf "$W"' EXIT
cd "$W"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.2f s, %.0f/s", b - a, n / (b - a) }'; }
# timed N CMD...: runs CMD (stdout to timed.out) and prints the wall-clock
# and CPU (user + system) rates for N items: the machine may be shared.
timed() {
	python3 - "$@" <<'EOF'
import resource, subprocess, sys, time
n = int(sys.argv[1])
t = time.monotonic()
rc = subprocess.call(sys.argv[2:], stdout=open("timed.out", "w"))
wall = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru.ru_utime + ru.ru_stime
print("%.2f s wall (%.0f/s), %.2f s CPU (%.0f/s), %d MB peak" %
      (wall, n / wall, cpu, n / cpu, ru.ru_maxrss // 1024))
sys.exit(rc)
EOF
}

python3 - "$AGREEMENTS" "$PERIODS" <<'EOF'
import sys
agreements, periods = int(sys.argv[1]), int(sys.argv[2])
rules = """id = "{id}";
home = "3308{h:02d}";
host = "3301{g:02d}";
cadence = "monthly";
start = "2000-01";
taxes = ( {{ code = "vat"; retain = "50%"; }},
          {{ code = "cit"; retain = "40%"; }} );
statistics = ( {{ code = "industrial_output"; mode = "split"; home = "50%"; }} );
beneficiaries = ( {{ id = "v-a"; weight = 3; }}, {{ id = "v-b"; weight = 2; }} );
terms = (
  {{ from = "2000-01"; home = "50%"; floor = "1500000.00"; }},
  {{ from = "2040-01"; bands = ( {{ upto = "5000000.00"; home = "0%"; }},
                                {{ home = "60%"; }} );
                      cap = "8000000.00"; }}
);
"""
out = open("reports.jsonl", "w")
x = 12345
for a in range(agreements):
    aid = "a%04d" % a
    with open("rules/%s.conf" % aid, "w") as f:
        f.write(rules.format(id=aid, h=a % 90 + 10, g=a % 89 + 10))
for p in range(periods):
    y, m = 2000 + p // 12, p % 12 + 1
    for a in range(agreements):
        x = (x * 1103515245 + 12345) % 2147483648
        vat, cit, io = x % 50000000, (x >> 7) % 9000000, (x >> 3) % 900000000
        out.write('{"report_id":"r-%04d-%04d-%02d","agreement":"a%04d","period":"%04d-%02d",'
                  '"role":"host","taxes":{"vat":"%d.%02d","cit":"%d.%02d"},'
                  '"statistics":{"industrial_output":"%d.%02d"}}\n'
                  % (a, y, m, a, y, m, vat // 100, vat % 100, cit // 100, cit % 100,
                     io // 100, io % 100))
EOF

"$SH" keygen --origin bench.example/shanhai --out ledger.key >/dev/null
t0=$(now)
"$SH" fixture build --rules rules --time 2026-11-27T10:00:00Z reports.jsonl >ledger.jsonl
t1=$(now)
N=$(wc -l <ledger.jsonl)
echo "ledger: $N entries, $(du -m ledger.jsonl | cut -f1) MB; built through the engine in $(rate "$N" "$t0" "$t1")"
"$SH" fixture sign --key ledger.key --origin bench.example/shanhai ledger.jsonl >checkpoint
echo "shanhai verify (signature, canonical form, tree, replay) of $N entries (target 100000/s):"
echo "  $(timed "$N" "$SH" verify --vkey ledger.key.vkey --checkpoint checkpoint --entries ledger.jsonl)"
sed 's/^/  /' timed.out
rm -f ledger.jsonl reports.jsonl

echo "proof latency at $PROOF_LEAVES entries (in-memory subtree table, callback API):"
"$TOP/$BUILD/bench/bench_proofs" "$PROOF_LEAVES" 2000
echo "proof latency at $PROOF_SQLITE_LEAVES entries (store's SQLite database, store_get_hash as the callback):"
"$TOP/$BUILD/bench/bench_proofs" "$PROOF_SQLITE_LEAVES" 2000 "$W/ledger.db"
