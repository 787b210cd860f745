#!/bin/sh
# shanhai witness: add-checkpoint latency (target: under 2 ms at the
# median). A log of WITNESS_REQUESTS (default 300) checkpoints, each
# submitted with its consistency proof from the one before, one after the
# other over one keep-alive HTTP connection by tests/witness_client.py; the
# time is the client's, from the request's first byte to the answer's last
# (so it includes Python's own HTTP client), and each request commits the
# witness's SQLite state with synchronous=FULL before answering.
set -eu
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
SH=$TOP/$BUILD/shanhai
N=${WITNESS_REQUESTS:-300}
W=${TMPDIR:-/tmp}/bench-witness.$$
mkdir -p "$W/cps"
trap 'kill $WPID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"' EXIT
WPID=
cd "$W"
ORIGIN=bench.example/log
"$SH" keygen --origin $ORIGIN --out log.key >/dev/null
"$SH" keygen --witness --origin witness.bench.example --out w.key >/dev/null
seq 1 "$N" | sed 's/.*/{"n":&}/' >ledger.jsonl
i=1
while [ $i -le "$N" ]; do
	"$SH" fixture sign --key log.key --origin $ORIGIN --size $i ledger.jsonl >cps/cp.$i
	"$SH" fixture consistency --from $((i - 1)) --size $i ledger.jsonl >cps/pf.$i
	i=$((i + 1))
done
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >w.conf <<EOC
name = "witness.bench.example";
key = "w.key";
listen = "127.0.0.1:$PORT";
state_dir = "state";
log_level = "warning";
logs = ( { origin = "$ORIGIN"; key = "$(cat log.key.vkey)"; } );
EOC
"$SH" witness -c w.conf &
WPID=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "witness did not start"; exit 1; }
	sleep 0.05
done
python3 "$TOP/tests/witness_client.py" bench "http://127.0.0.1:$PORT/" cps "$N"
echo "target: median under 2 ms"
