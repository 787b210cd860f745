#!/bin/sh
# bench_ingest: durable, receipted reports per second through shanhaid over
# mutual TLS, against a bare evhttp+OpenSSL server answering "200 ok" with
# the same TLS context (bench/bare_tls.c), driven by bench/loadgen.c.
# Prints figures against the targets of the ingest issue; fails on nothing.
#   BENCH_SECONDS (default 8): length of each measured run
. "$TOP/tests/itlib.sh"
S=${BENCH_SECONDS:-8}
CONNS=32
pki
port=$(free_port)
bare_port=$(free_port)
c=$T/etc/shanhaid.conf
bench_config "$c" "$port" "$CONNS"
start_daemon "$c"
"$BUILD/bench/bare_tls" -c "$c" -p "$bare_port" &
BPID=$!
PIDS="$PIDS $BPID"

load() {	# load PORT [loadgen args]: the figures line
	p=$1; shift
	"$BUILD/bench/loadgen" -p "$p" --cacert "$T/pki/ca.crt" \
	    --cert "$T/pki/yuhang.crt" --key "$T/pki/yuhang.key" "$@"
}
# sample PID...: the machine's busy and idle clock ticks, then name=ticks
# of every thread of each PID (utime + stime, /proc).
sample() {
	awk '/^cpu / { printf "busy=%d idle=%d ", $2+$3+$4+$6+$7+$8, $5+$9 }' /proc/stat
	for pid in "$@"; do
		for t in /proc/"$pid"/task/*; do
			awk '{ printf "%s=%d ", substr($2, 2, length($2) - 2), $14 + $15 }' "$t/stat"
		done
	done
	echo
}
# load_cpu PORT SERVER_PID [loadgen args]: load, and into $T/cpu the CPU
# the server's threads and the load generator spent per request, in
# microseconds, over the middle S - 1 seconds of the run (after 1 s of
# warm-up), and how busy both CPUs were.
load_cpu() {
	p=$1; spid=$2; shift 2
	load "$p" "$@" > "$T/load.out" &
	lpid=$!
	sleep 1.5
	lg=$(pgrep -P "$lpid" loadgen || echo "$lpid")
	a=$(sample "$spid" "$lg")
	sleep "$(awk -v s="$S" 'BEGIN { print s - 1 }')"
	b=$(sample "$spid" "$lg")
	wait "$lpid"
	awk -v a="$a" -v b="$b" -v out="$(cat "$T/load.out")" -v s="$S" 'BEGIN {
		n = split(out, f, " "); for (i = 1; i <= n; i++) if (f[i] ~ /^rps=/) rps = substr(f[i], 5)
		n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); ta[kv[1]] += kv[2] }
		n = split(b, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); tb[kv[1]] += kv[2]; if (!(kv[1] in seen)) { seen[kv[1]] = 1; order[++k] = kv[1] } }
		reqs = rps * (s - 1)
		busy = tb["busy"] - ta["busy"]; idle = tb["idle"] - ta["idle"]
		printf "CPU per request (us):"
		for (i = 1; i <= k; i++) if (order[i] != "busy" && order[i] != "idle")
			printf " %s %.1f", order[i], (tb[order[i]] - ta[order[i]]) * 1e6 / 100 / reqs
		printf "; both CPUs %.0f%% busy\n", 100 * busy / (busy + idle)
	}' > "$T/cpu"
	cat "$T/load.out"
}
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# groups: the commit groups' sums and counts from the daemon's /metrics
# (reports a group, seconds of the log's sync), as "g_sum g_n s_sum s_n".
groups() {
	curl -s --cacert "$T/pki/ca.crt" --cert "$T/pki/operator.crt" \
	    --key "$T/pki/operator.key" "https://127.0.0.1:$port/metrics" |
	awk '/^shanhai_commit_group_reports_sum / { gs = $2 }
	    /^shanhai_commit_group_reports_count / { gn = $2 }
	    /^shanhai_commit_fsync_seconds_sum / { ss = $2 }
	    /^shanhai_commit_fsync_seconds_count / { sn = $2 }
	    END { print gs + 0, gn + 0, ss + 0, sn + 0 }'
}
rss() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' /proc/"$1"/status; }
ok() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN { r = (op == ">=") ? a >= b : a < b; print r ? "ok" : "MISSED" }'; }

echo "shanhaid and bare TLS on 127.0.0.1, $CONNS keep-alive mTLS connections, ${S}s per run, $(nproc) CPUs"
bare=$(load_cpu "$bare_port" "$BPID" -c $CONNS -t 2 -d "$S" -w 1)
echo "bare TLS:   $bare"
echo "            $(cat "$T/cpu")"
g0=$(groups)
ing=$(load_cpu "$port" "$DPID" -c $CONNS -t 2 -d "$S" -w 1 --offset 0)
g1=$(groups)
echo "ingest:     $ing"
echo "            $(cat "$T/cpu")"
# The disk's part: with one request a connection, a slower sync of the log
# holds more of the 32 clients waiting, and the CPUs idle.
echo "            $(awk -v a="$g0" -v b="$g1" 'BEGIN { split(a, x, " "); split(b, y, " ")
	n = y[2] - x[2]; m = y[4] - x[4]
	printf "commit groups: %d, %.1f reports each; log sync %.2f ms mean\n",
	    n, n ? (y[1] - x[1]) / n : 0, m ? 1000 * (y[3] - x[3]) / m : 0 }')"
# The machine's own stalls in the same seconds (bench/stallprobe.c).
"$BUILD/bench/stallprobe" -d "$S" > "$T/stalls" &
SPID=$!
rate=$(load "$port" -c $CONNS -t 2 -d "$S" -w 1 -r 5000 --offset 60000)
wait "$SPID"
echo "ingest @5k: $rate"
stalls=$(cat "$T/stalls")
echo "CPU stalls: $stalls"
conns=$(load "$port" -c 16 -t 2 -d "$S" -w 1 --new-conns)
echo "new conns:  $conns"
bconns=$(load "$bare_port" -c 16 -t 2 -d "$S" -w 1 --new-conns)
echo "bare new:   $bconns"
rconns=$(load "$port" -c 16 -t 2 -d "$S" -w 1 --new-conns --resume)
echo "resumed:    $rconns"
r=$(field "$ing" rps)
b=$(field "$bare" rps)
ratio=$(awk -v a="$r" -v b="$b" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
p99=$(field "$rate" p99_ms)
nc=$(field "$conns" rps)
m=$(rss "$DPID")
size=$(curl -s --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" --key "$T/pki/auditor.key" \
    "https://127.0.0.1:$port/v1/ledger/checkpoint" | sed -n 2p)
echo "--- figures (target)"
echo "durable receipted reports/s, $CONNS conns: $r (>= 15000) $(ok "$r" 15000 '>=')"
echo "  p50 $(field "$ing" p50_ms) ms, p99 $(field "$ing" p99_ms) ms"
echo "ratio ingest / bare TLS ($b/s): $ratio (>= 0.5) $(ok "$ratio" 0.5 '>=')"
echo "p99 at 5000 reports/s offered: $p99 ms (< 25) $(ok "$p99" 25 '<'); achieved $(field "$rate" rps)/s; CPU stalls in those seconds: $(field "$stalls" slow_pct)% of pieces slow, $(field "$stalls" bursts) bursts"
echo "new mTLS connections/s: $nc (>= 800) $(ok "$nc" 800 '>='); bare TLS: $(field "$bconns" rps); resumed sessions: $(field "$rconns" rps)"
echo "shanhaid peak RSS: $m MiB (< 64) $(ok "$m" 64 '<'); ledger entries: $size"
