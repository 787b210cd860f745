#!/bin/sh
# bench_witnessing: what witnesses and the tile mirror cost ingest (issue
# 17: at most 5% at 32 connections, with two local witnesses at a 1 s
# interval; the tiles keep up). Durable receipted reports per second
# through shanhaid (bench/loadgen.c, 32 keep-alive mTLS connections).
# The machine is shared, and one run can differ from the next by far more
# than 5%, so runs are made in pairs, interleaved: for each kind (two
# `shanhai witness` at 1 s; ledger.tiles_dir; both), BENCH_PAIRS pairs of a
# plain run and a run of that kind, the order turned around every other
# pair (plain-kind, kind-plain, ...) so that a drift (the ledger grows
# from run to run; the neighbours' load comes and goes) falls on both
# sides alike. Each pair gives a ratio kind/plain; the figure is the
# median of the ratios, so that one noisy pair does not decide it. Then
# how far the witnessed checkpoint and the mirror were behind the ledger
# one second after each load with them. Beside the throughput, each pair
# also gives the CPU time of shanhaid and of the witness processes per
# entry written, kind against plain: what witnessing costs in work, which
# the neighbours' load moves far less than it moves reports per second.
# Fails on nothing.
#   BENCH_SECONDS (default 8): length of each measured run
#   BENCH_PAIRS (default 5, at least 3): pairs per kind
#   BENCH_KINDS (default "wonly tiles witnessed"): the kinds measured
. "$TOP/tests/itlib.sh"
S=${BENCH_SECONDS:-8}
WPIDS=
CONNS=32
SH=$BUILD/shanhai
pki
port=$(free_port)
d=$T/etc
c=$d/shanhaid.conf
bench_config "$c" "$port" "$CONNS"
# Each kind its own ledger (state-KIND), mirror and witnesses' state: the
# runs of one kind do not leave the next run of another a backlog to
# publish or to witness. The ledgers of a pair grow alike.
VKEY=$(cat "$d/ledger.key.vkey")
for w in 1 2; do
	mkdir -p "$T/w$w"
	"$SH" keygen --witness --origin "witness$w.bench.example" --out "$T/w$w/w.key" >/dev/null
done
# witnesses KIND: two `shanhai witness` for it; their config lines on stdout.
witnesses() {
	echo "witnesses = ("
	for w in 1 2; do
		p=$(free_port)
		cat >"$T/w$w/witness-$1.conf" <<EOC
name = "witness$w.bench.example";
key = "w.key";
listen = "127.0.0.1:$p";
state_dir = "state-$1";
log_level = "warning";
logs = ( { origin = "test.example/shanhai"; key = "$VKEY"; } );
EOC
		"$SH" witness -c "$T/w$w/witness-$1.conf" >>"$T/w$w/log" 2>&1 &
		PIDS="$PIDS $!"
		WPIDS="$WPIDS $!"
		[ $w = 1 ] && sep=, || sep=
		echo "  { name = \"witness$w.bench.example\"; key = \"$(cat "$T/w$w/w.key.vkey")\"; url = \"http://127.0.0.1:$p/\"; }$sep"
	done
	echo ");"
	echo "witness_quorum = 2;"
	echo "witness_interval = 1;"
}
for k in plain wonly tiles witnessed; do
	sed "s|^state_dir = .*|state_dir = \"state-$k\";|" "$c" >"$T/$k.conf"
	mkdir -p "$d/state-$k"
	case $k in tiles|witnessed)
		sed -i "s|^ledger = { \(.*\) };\$|ledger = { \1 tiles_dir = \"tiles-$k\"; };|" "$T/$k.conf"
	esac
	case $k in wonly|witnessed)
		witnesses $k >"$T/w.$k"
		cat "$T/w.$k" >>"$T/$k.conf"
	esac
done
wait_witnesses() {
	for f in "$T"/w1/witness-*.conf "$T"/w2/witness-*.conf; do
		p=$(sed -n 's/^listen = "127.0.0.1:\([0-9]*\)";/\1/p' "$f")
		i=0
		until curl -s -o /dev/null "http://127.0.0.1:$p/healthz"; do
			i=$((i + 1)); [ $i -lt 100 ] || fail "witness on $p did not start"
			sleep 0.05
		done
	done
}
wait_witnesses

get() {	# NAME PATH
	curl -s --cacert "$T/pki/ca.crt" --cert "$T/pki/$1.crt" \
	    --key "$T/pki/$1.key" "https://127.0.0.1:$port$2"
}
# cpu PID...: their user and system CPU time so far, in clock ticks.
cpu() {
	for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done |
	    awk '{ s += $14 + $15 } END { print s + 0 }'
}
# tcpu PID NAME: the CPU time of PID's threads named NAME, in clock ticks.
tcpu() {
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] && cat "$t/stat"
	done | awk '{ s += $14 + $15 } END { print s + 0 }'
}
run() {	# CONF OFFSET: starts shanhaid on it, loads it, stops it; prints rps
	cp "$1" "$c"
	start_daemon "$c"
	s0=$(get auditor /v1/ledger/checkpoint | sed -n 2p)
	c0=$(cpu $DPID $WPIDS)
	d0=$(cpu $DPID) t0=$(tcpu $DPID witnessing) w0=$(cpu $WPIDS)
	out=$("$BUILD/bench/loadgen" -p "$port" --cacert "$T/pki/ca.crt" \
	    --cert "$T/pki/yuhang.crt" --key "$T/pki/yuhang.key" \
	    -c $CONNS -t 2 -d "$S" -w 1 --offset "$2")
	c1=$(cpu $DPID $WPIDS)
	d1=$(cpu $DPID) t1=$(tcpu $DPID witnessing) w1=$(cpu $WPIDS)
	s1=$(get auditor /v1/ledger/checkpoint | sed -n 2p)
	# CPU ms of shanhaid and the witnesses per 1000 entries written.
	awk -v c="$((c1 - c0))" -v n="$((${s1:-0} - ${s0:-0}))" -v hz="$(getconf CLK_TCK)" \
	    'BEGIN { printf("%.1f\n", (n > 0) ? 1e6 * c / hz / n : 0) }' >"$T/last.cpu"
	if grep -q witnesses "$c"; then
		# The witnessing thread and the witnesses, against shanhaid.
		echo "$((t1 - t0)) $((w1 - w0)) $((d1 - d0))" >>"$T/wcpu.$(basename "$1" .conf)"
	fi
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
PAIRS=${BENCH_PAIRS:-5}
[ "$PAIRS" -ge 3 ] || PAIRS=3
KINDS=${BENCH_KINDS:-wonly tiles witnessed}
echo "shanhaid on 127.0.0.1, $CONNS keep-alive mTLS connections, ${S}s per run, $(nproc) CPUs, $PAIRS pairs per kind"
off=0
measure() {	# CONF: one run; its reports/s in MV, its CPU per entry in MC
	MV=$(run "$1" $off)
	MV=${MV:-0}
	off=$((off + 5000))	# new months: every report is new
	MC=$(cat "$T/last.cpu")
}
# One run first, not counted: the first start after the files are made
# is slower than any later one.
measure "$T/plain.conf"
echo "warm-up run (not counted): $MV reports/s"
for k in $KINDS; do
	: >"$T/ratios.$k"
	: >"$T/cpuratios.$k"
	for pair in $(seq 1 "$PAIRS"); do
		if [ $((pair % 2)) = 1 ]; then
			measure "$T/plain.conf"; rp=$MV; cp_=$MC
			measure "$T/$k.conf"; rk=$MV; ck=$MC
		else
			measure "$T/$k.conf"; rk=$MV; ck=$MC
			measure "$T/plain.conf"; rp=$MV; cp_=$MC
		fi
		ratio=$(awk -v p="$rp" -v k="$rk" 'BEGIN { printf("%.4f", (p > 0) ? k / p : 0) }')
		cratio=$(awk -v p="$cp_" -v k="$ck" 'BEGIN { printf("%.4f", (p > 0) ? k / p : 0) }')
		echo "$ratio" >>"$T/ratios.$k"
		echo "$cratio" >>"$T/cpuratios.$k"
		printf '%-10s pair %d: plain %s, %s %s reports/s: ratio %s;' "$k" "$pair" \
		    "$rp" "$k" "$rk" "$ratio"
		printf ' CPU ms per 1000 entries %s, %s: ratio %s\n' "$cp_" "$ck" "$cratio"
	done
done
echo "--- figures (target)"
median() {	# FILE: the median of its numbers
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for k in $KINDS; do
	m=$(median "$T/ratios.$k")
	cost=$(awk -v m="$m" 'BEGIN { printf("%.1f", 100 * (1 - m)) }')
	case $k in
	wonly) what="2 witnesses at 1 s"; target=" (<= 5%)" ;;
	tiles) what="the tile mirror"; target="" ;;
	witnessed) what="both"; target="" ;;
	esac
	echo "ingest cost of $what: $cost% (median ratio $m over $PAIRS pairs:" \
	    "$(sort -n "$T/ratios.$k" | paste -sd' ' -))$target"
	cm=$(median "$T/cpuratios.$k")
	echo "  CPU of shanhaid and the witnesses per entry: $(awk -v m="$cm" \
	    'BEGIN { printf("%+.1f", 100 * (m - 1)) }')% (median ratio $cm:" \
	    "$(sort -n "$T/cpuratios.$k" | paste -sd' ' -))"
done
for f in "$T"/wcpu.*; do
	[ -f "$f" ] || continue
	awk -v hz="$(getconf CLK_TCK)" -v s="$S" -v k="${f##*.}" '{ t += $1; w += $2; d += $3; n++ }
END { printf("CPU over the %s loads (%d runs of %d s): the witnessing thread %.0f ms" \
    " (%.2f%% of shanhaid'"'"'s %.0f ms), the witness processes %.0f ms\n", k, n, s + 1,
    1000 * t / hz, (d > 0) ? 100 * t / d : 0, 1000 * d / hz, 1000 * w / hz) }' "$f"
done
[ -f "$T/lags" ] && while read -r _ led wit til; do
	echo "1 s after a load: ledger $led, witnessed $wit, tiles $til published"
done <"$T/lags"
exit 0
