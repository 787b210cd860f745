#!/bin/sh
# Durability: shanhaid killed with SIGKILL while bureaus submit in parallel.
# After a restart every acknowledged report is at the index its receipt
# named, the ledger verifies, and resubmitting answers each acknowledged
# report with its first receipt.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
start_daemon "$c"
base=https://127.0.0.1:$port
d=$T/etc
workers=8
per=20

# Host reports of kecheng-yuhang, one period each, 2018-01 onwards.
python3 - "$T" "$workers" "$per" <<'EOF'
import json, sys
t, w, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for k in range(w * per):
    y, m = 2018 + k // 12, k % 12 + 1
    r = {"report_id": "crash-%d" % k, "agreement": "kecheng-yuhang",
         "period": "%d-%02d" % (y, m), "role": "host",
         "taxes": {"vat": "%d.%02d" % (100000 + k, k % 100)}}
    open("%s/c%d.json" % (t, k), "w").write(json.dumps(r))
EOF

# worker W: submits its reports in turn; a receipt is kept only for a 201.
worker() {
	k=$1
	while [ "$k" -lt $((workers * per)) ]; do
		code=$(curl -s -o "$T/c$k.out" -w '%{http_code}' --cacert "$T/pki/ca.crt" \
		    --cert "$T/pki/yuhang.crt" --key "$T/pki/yuhang.key" \
		    -H 'Content-Type: application/json' --data-binary @"$T/c$k.json" \
		    "$base/v1/reports" || true)
		[ "$code" = 201 ] && mv "$T/c$k.out" "$T/c$k.receipt"
		k=$((k + workers))
	done
}
spawn $workers worker
# Kill it once a fair number are acknowledged, while the rest are in flight.
i=0
until [ "$(ls "$T" | grep -c '\.receipt$')" -ge $((workers * per / 3)) ]; do
	i=$((i + 1)); [ $i -lt 1200 ] || fail "submissions too slow"
	sleep 0.05
done
kill -9 "$DPID"
for p in $SPAWNED; do wait "$p" || true; done
acked=$(ls "$T" | grep -c '\.receipt$')

start_daemon "$c"
curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" --key "$T/pki/auditor.key" \
    -o "$T/checkpoint" "$base/v1/ledger/checkpoint" || fail "checkpoint"
size=$(sed -n 2p "$T/checkpoint")
curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" --key "$T/pki/auditor.key" \
    -o "$T/entries.jsonl" "$base/v1/ledger/entries?start=0&end=$size" || fail "entries"
python3 - "$T" "$T/entries.jsonl" <<'EOF' || fail "an acknowledged report is not where its receipt said"
import glob, json, sys
entries = open(sys.argv[2]).read().splitlines()
for f in glob.glob(sys.argv[1] + "/c*.receipt"):
    r = json.load(open(f))
    assert r["entries"][-1] < len(entries), (f, r["entries"], len(entries))
    e = json.loads(entries[r["index"]])
    assert e["type"] == "report" and e["sha256"] == r["report"], (f, e)
EOF
"$BUILD/shanhai" verify --vkey "$d/ledger.key.vkey" --checkpoint "$T/checkpoint" \
    --entries "$T/entries.jsonl" >"$T/verify.out" 2>&1 || fail "shanhai verify: $(cat "$T/verify.out")"

# Everything again: acknowledged ones get their first receipt back (200),
# the others go in now (201) or were already in without an answer (200).
for k in $(seq 0 $((workers * per - 1))); do
	code=$(curl -s -o "$T/again.out" -w '%{http_code}' --cacert "$T/pki/ca.crt" \
	    --cert "$T/pki/yuhang.crt" --key "$T/pki/yuhang.key" \
	    -H 'Content-Type: application/json' --data-binary @"$T/c$k.json" "$base/v1/reports")
	if [ -f "$T/c$k.receipt" ]; then
		[ "$code" = 200 ] || fail "acknowledged c$k: $code $(cat "$T/again.out")"
		cmp -s "$T/again.out" "$T/c$k.receipt" || fail "c$k: another receipt than the first"
	else
		[ "$code" = 200 ] || [ "$code" = 201 ] || fail "c$k: $code $(cat "$T/again.out")"
	fi
done
echo "ingest_crash: $acked of $((workers * per)) acknowledged before SIGKILL, ledger of $size entries verified"
