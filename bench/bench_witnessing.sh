#!/bin/sh
# bench_witnessing: what witnesses and the tile mirror cost ingest (issue
# 17: at most 5% at 32 connections, with two local witnesses at a 1 s
# interval; the tiles keep up). Durable receipted reports per second
# through shanhaid (bench/loadgen.c, 32 keep-alive mTLS connections),
# alternately without and with two `shanhai witness` and ledger.tiles_dir,
# two runs each; then how far the witnessed checkpoint and the mirror are
# behind the ledger one second after the load stops. Fails on nothing.
#   BENCH_SECONDS (default 8): length of each measured run
. "$TOP/tests/itlib.sh"
S=${BENCH_SECONDS:-8}
CONNS=32
SH=$BUILD/shanhai
pki
port=$(free_port)
d=$T/etc
c=$d/shanhaid.conf
write_config "$c" "$port" 'limits = { client_connections = 4096; max_connections = 4096; };'
sed -i 's/^log_level = .*/log_level = "info";/' "$c"
rm -f "$d/rules/"*.conf
for i in $(seq 0 $((CONNS - 1))); do
	id=$(printf 'bench-%02d' "$i")
	cat > "$d/rules/$id.conf" <<EOF
id = "$id"; home = "330802"; host = "330110"; cadence = "monthly";
start = "1000-01"; taxes = ( { code = "vat"; } );
terms = ( { from = "1000-01"; home = "50%"; } );
EOF
done
cp "$c" "$T/plain.conf"
VKEY=$(cat "$d/ledger.key.vkey")
for w in 1 2; do
	mkdir -p "$T/w$w"
	"$SH" keygen --witness --origin "witness$w.bench.example" --out "$T/w$w/w.key" >/dev/null
	p=$(free_port)
	eval "P$w=$p"
	cat >"$T/w$w/witness.conf" <<EOC
name = "witness$w.bench.example";
key = "w.key";
listen = "127.0.0.1:$p";
state_dir = "state";
log_level = "warning";
logs = ( { origin = "test.example/shanhai"; key = "$VKEY"; } );
EOC
	"$SH" witness -c "$T/w$w/witness.conf" >>"$T/w$w/log" 2>&1 &
	PIDS="$PIDS $!"
done
sed 's|^ledger = { \(.*\) };$|ledger = { \1 tiles_dir = "tiles"; };|' "$T/plain.conf" >"$T/witnessed.conf"
cat >>"$T/witnessed.conf" <<EOC
witnesses = (
  { name = "witness1.bench.example"; key = "$(cat "$T/w1/w.key.vkey")"; url = "http://127.0.0.1:$P1/"; },
  { name = "witness2.bench.example"; key = "$(cat "$T/w2/w.key.vkey")"; url = "http://127.0.0.1:$P2/"; }
);
witness_quorum = 2;
witness_interval = 1;
EOC

get() {	# NAME PATH
	curl -s --cacert "$T/pki/ca.crt" --cert "$T/pki/$1.crt" \
	    --key "$T/pki/$1.key" "https://127.0.0.1:$port$2"
}
run() {	# CONF OFFSET: starts shanhaid on it, loads it, stops it; prints rps
	cp "$1" "$c"
	start_daemon "$c"
	out=$("$BUILD/bench/loadgen" -p "$port" --cacert "$T/pki/ca.crt" \
	    --cert "$T/pki/yuhang.crt" --key "$T/pki/yuhang.key" \
	    -c $CONNS -t 2 -d "$S" -w 1 --offset "$2")
	printf '%s\n' "$out" | tr ' ' '\n' | sed -n 's/^rps=//p'
	if grep -q witnesses "$c"; then
		sleep 1
		led=$(get auditor /v1/ledger/checkpoint | sed -n 2p)
		wit=$(get auditor /v1/ledger/checkpoint/witnessed | sed -n 2p)
		til=$(get operator /metrics | sed -n 's/^shanhai_tiles_published_size //p')
		echo "lag ${led:-0} ${wit:-0} ${til:-0}" >>"$T/lags"
	fi
	kill -TERM "$DPID"
	wait_exit "$DPID" 30 >/dev/null || true
}
echo "shanhaid on 127.0.0.1, $CONNS keep-alive mTLS connections, ${S}s per run, $(nproc) CPUs"
a1=$(run "$T/plain.conf" 0); echo "no witnesses:         $a1 reports/s"
b1=$(run "$T/witnessed.conf" 10000); echo "2 witnesses + tiles:  $b1 reports/s"
a2=$(run "$T/plain.conf" 20000); echo "no witnesses:         $a2 reports/s"
b2=$(run "$T/witnessed.conf" 30000); echo "2 witnesses + tiles:  $b2 reports/s"
echo "--- figures (target)"
awk -v a1="$a1" -v a2="$a2" -v b1="$b1" -v b2="$b2" 'BEGIN {
	a = (a1 + a2) / 2; b = (b1 + b2) / 2; cost = a > 0 ? 100 * (a - b) / a : 0
	printf "ingest cost of 2 witnesses (1 s) and the tile mirror: %.1f%% (<= 5%%) %s\n",
	    cost, cost <= 5 ? "ok" : "MISSED" }'
while read -r _ led wit til; do
	echo "1 s after the load: ledger $led, witnessed $wit ($((led - wit)) behind), tiles $til ($((led - til)) behind)"
done <"$T/lags"
