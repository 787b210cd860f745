#!/bin/sh
# bench_witnessing: what witnesses and the tile mirror cost ingest (issue
# 17: at most 5% at 32 connections, with two local witnesses at a 1 s
# interval; the tiles keep up). Durable receipted reports per second
# through shanhaid (bench/loadgen.c, 32 keep-alive mTLS connections), in
# turn: without either, with two `shanhai witness` (1 s), with
# ledger.tiles_dir, with both; two rounds. Then how far the witnessed
# checkpoint and the mirror were behind the ledger one second after each
# load with them. Fails on nothing; the machine may be shared, so the
# figures of a round are compared with the same round's plain run.
#   BENCH_SECONDS (default 8): length of each measured run
. "$TOP/tests/itlib.sh"
S=${BENCH_SECONDS:-8}
CONNS=32
SH=$BUILD/shanhai
pki
port=$(free_port)
d=$T/etc
c=$d/shanhaid.conf
bench_config "$c" "$port" "$CONNS"
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
sed 's|^ledger = { \(.*\) };$|ledger = { \1 tiles_dir = "tiles"; };|' "$T/plain.conf" >"$T/tiles.conf"
cp "$T/plain.conf" "$T/wonly.conf"
cat >"$T/witnesses" <<EOC
witnesses = (
  { name = "witness1.bench.example"; key = "$(cat "$T/w1/w.key.vkey")"; url = "http://127.0.0.1:$P1/"; },
  { name = "witness2.bench.example"; key = "$(cat "$T/w2/w.key.vkey")"; url = "http://127.0.0.1:$P2/"; }
);
witness_quorum = 2;
witness_interval = 1;
EOC
cat "$T/witnesses" >>"$T/wonly.conf"
cat "$T/tiles.conf" "$T/witnesses" >"$T/witnessed.conf"

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
	if grep -q 'witnesses\|tiles_dir' "$c"; then
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
off=0
for r in 1 2; do
	for k in plain wonly tiles witnessed; do
		v=$(run "$T/$k.conf" $off)
		off=$((off + 5000))
		eval "${k}_$r=$v"
		printf '%-10s round %d: %s reports/s\n' "$k" "$r" "$v"
	done
done
echo "--- figures (target)"
cost() {	# KIND: its cost against the plain run of each round, averaged
	awk -v p1="$plain_1" -v p2="$plain_2" -v k1="$(eval echo \$${1}_1)" \
	    -v k2="$(eval echo \$${1}_2)" 'BEGIN {
		c = 100 * ((p1 - k1) / p1 + (p2 - k2) / p2) / 2; printf "%.1f", c }'
}
echo "ingest cost of 2 witnesses at 1 s: $(cost wonly)% (<= 5%)"
echo "ingest cost of the tile mirror: $(cost tiles)%"
echo "ingest cost of both: $(cost witnessed)%"
while read -r _ led wit til; do
	echo "1 s after a load: ledger $led, witnessed $wit, tiles $til published"
done <"$T/lags"
