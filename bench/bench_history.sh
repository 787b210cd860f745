#!/bin/sh
# bench_history: what the ledger's history costs shanhaid (issue 13: RSS
# under load below 64 MiB with 10 million entries in the ledger, and ingest
# at 10 million within 15% of ingest on an empty ledger). The same load
# (bench_ingest's 32 connections) runs against an empty ledger, then
# against one of HISTORY_ENTRIES entries built through the daemon itself
# (loadgen --count over 64 agreements, every report its own month, so every
# report opens a period and years keep closing) and restarted, so that the
# figures include the start-up replay. Prints RSS after start and the peak
# under load, reports/s, and the ratio: HISTORY_PAIRS runs of each,
# interleaved (empty, history, empty, ...), and the median of the pairs'
# ratios, since a single run on this machine moves by a fifth or more.
# Fails on nothing.
#   HISTORY_ENTRIES (default 10000000): the history to build
#   HISTORY_PAIRS (default 3): measured runs of each ledger
#   BENCH_SECONDS (default 8): length of each measured run
. "$TOP/tests/itlib.sh"
H=${HISTORY_ENTRIES:-10000000}
S=${BENCH_SECONDS:-8}
P=${HISTORY_PAIRS:-3}
CONNS=32
AGREEMENTS=64	# 10 million entries: 78,125 months each, up to the year 7510
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
bench_config "$c" "$port" "$AGREEMENTS"

load() {	# load [loadgen args]: the figures line
	"$BUILD/bench/loadgen" -p "$port" --cacert "$T/pki/ca.crt" \
	    --cert "$T/pki/yuhang.crt" --key "$T/pki/yuhang.key" \
	    --agreements $AGREEMENTS "$@"
}
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
mib() { awk -v k="$2" '$1 == k ":" { printf "%.1f", $2 / 1024 }' /proc/"$1"/status; }
size() {
	curl -s --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" \
	    --key "$T/pki/auditor.key" \
	    "https://127.0.0.1:$port/v1/ledger/checkpoint" | sed -n 2p
}
# start: shanhaid, waiting as long as its replay takes; the seconds it
# took in $T/took.
start() {
	t0=$(date +%s.%N)
	"$BUILD/shanhaid" -c "$c" >>"$T/daemon.log" 2>&1 &
	DPID=$!
	PIDS="$PIDS $DPID"
	until curl -s -o /dev/null --cacert "$T/pki/ca.crt" "https://127.0.0.1:$port/healthz"; do
		kill -0 "$DPID" 2>/dev/null || fail "shanhaid exited"
		sleep 0.2
	done
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }' >"$T/took"
}
stop() { kill -TERM "$DPID"; wait_exit "$DPID" 600 >/dev/null || true; }
# measure NAME OFFSET: RSS after start, the 32-connection run, peak RSS.
# Sets next to a year after the run's last month (a connection's share of
# the reports, with a quarter to spare, as the shares are not equal).
# Periods past 9999-12 are refused (422), which would make the run's
# reports/s mean nothing: such a run says so.
measure() {
	rss0=$(mib "$DPID" VmRSS)
	out=$(load -c $CONNS -t 2 -d "$S" -w 1 --offset "$2")
	bad=$(field "$out" bad_status)
	[ "${bad:-0}" = 0 ] || echo "$1: $bad reports refused (periods past the year 9999?): this run's figures do not count"
	next=$(($2 + $(field "$out" requests) * 5 / (4 * CONNS) + 12))
	echo "$1: entries $(size), RSS after start $rss0 MiB, $(field "$out" rps) reports/s (p50 $(field "$out" p50_ms) ms, p99 $(field "$out" p99_ms) ms), peak RSS $(mib "$DPID" VmHWM) MiB, RSS now $(mib "$DPID" VmRSS) MiB"
	eval "rps_$1=$(field "$out" rps) hwm_$1=$(mib "$DPID" VmHWM)"
}

echo "shanhaid, $CONNS keep-alive mTLS connections, ${S}s per run, $(nproc) CPUs, history of $H entries"
mkdir -p "$T/etc/state"
start
# Two entries a report (the report and its settlement).
per=$(( (H / 2 + AGREEMENTS - 1) / AGREEMENTS ))
t0=$(date +%s)
out=$(load -c $AGREEMENTS -t 2 -d 100000 -w 0 --count "$per")
echo "history: $(size) entries in $(( $(date +%s) - t0 )) s ($(field "$out" errors) errors), peak RSS while building $(mib "$DPID" VmHWM) MiB"
stop
mv "$T/etc/state" "$T/history"
# Pairs, interleaved: an empty ledger, then the history restarted (the
# replay's time and RSS printed). Each run on the history goes on after
# the months of the history and of the runs before, a year later, so
# every agreement keeps a year left open (not every period settled), as
# a ledger with a missing report does.
ratios=
pair=1
off=$((per + 12))
while [ $pair -le $P ]; do
	mkdir -p "$T/etc/state"
	start
	measure "empty$pair" 0
	stop
	rm -rf "$T/etc/state"
	mv "$T/history" "$T/etc/state"
	start
	echo "restart: $(cat "$T/took") s to replay the ledger, RSS then $(mib "$DPID" VmRSS) MiB (peak $(mib "$DPID" VmHWM) MiB)"
	measure "full$pair" "$off"
	off=$next
	stop
	mv "$T/etc/state" "$T/history"
	eval "e=\$rps_empty$pair f=\$rps_full$pair"
	ratios="$ratios $(awk -v e="$e" -v f="$f" 'BEGIN { printf "%.2f", (e > 0 ? f / e : 0) }')"
	hwm="${hwm:+$hwm, }$(eval echo "\$hwm_full$pair")"
	hwm0="${hwm0:+$hwm0, }$(eval echo "\$hwm_empty$pair")"
	pair=$((pair + 1))
done
echo "--- figures (target)"
echo "peak RSS with $H entries in the ledger, replay and load: $hwm MiB (< 64); empty ledger: $hwm0 MiB"
echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk -v p="$P" '
	{ r[NR] = $1; all = all (NR > 1 ? ", " : "") $1 }
	END { m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
	printf "ingest with the history / empty, %d interleaved pairs: %s; median %.2f (>= 0.85) %s\n", p, all, m, (m >= 0.85 ? "ok" : "MISSED") }'
