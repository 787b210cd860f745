#!/bin/sh
# bench_restore: `shanhai restore` from a tile folder (target: 50,000
# entries/s). shanhaid with ledger.tiles_dir takes loadgen's reports for
# BENCH_SECONDS (default 8) over 32 mTLS connections; once the mirror has
# caught up and the daemon stopped, the folder is restored into a new state,
# every bundle and tile checked, and shanhaid is started on it to compare
# its checkpoint. Fails on nothing.
. "$TOP/tests/itlib.sh"
S=${BENCH_SECONDS:-8}
CONNS=32
SH=$BUILD/shanhai
pki
port=$(free_port)
d=$T/etc
c=$d/shanhaid.conf
bench_config "$c" "$port" "$CONNS"
sed -i 's|^ledger = { \(.*\) };$|ledger = { \1 tiles_dir = "tiles"; };|' "$c"
start_daemon "$c"
"$BUILD/bench/loadgen" -p "$port" --cacert "$T/pki/ca.crt" --cert "$T/pki/yuhang.crt" \
    --key "$T/pki/yuhang.key" -c $CONNS -t 2 -d "$S" -w 1 >/dev/null
get() { curl -s --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" \
    --key "$T/pki/auditor.key" "https://127.0.0.1:$port$1"; }
get /v1/ledger/checkpoint >"$T/cp"
i=0
until cmp -s "$T/cp" "$d/tiles/checkpoint"; do
	i=$((i + 1)); [ $i -lt 600 ] || { echo "the mirror did not catch up"; exit 1; }
	sleep 0.1
done
kill -TERM "$DPID"
wait_exit "$DPID" 30 >/dev/null || true
out=$("$SH" restore --from "$d/tiles" --vkey "$d/ledger.key.vkey" --state "$T/restored")
echo "$out"
rate=$(printf '%s\n' "$out" | sed -n 's/.*(\([0-9]*\) entries\/s).*/\1/p')
echo "--- figures (target)"
awk -v r="$rate" 'BEGIN { printf "shanhai restore from a folder: %d entries/s (>= 50000) %s\n", r, (r >= 50000) ? "ok" : "MISSED" }'
