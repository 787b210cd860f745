#!/bin/sh
# shanhai settle throughput: 1,000 monthly agreements over 10 years with
# corrections (bench/gen_settle.py), settled by one process on one core.
# Prints reports settled per second and peak RSS; target >= 100,000/s, and
# memory that grows with agreements and open years, not with history: peak
# RSS for half the reports, all of them and four times the years (closed
# years go to a page file in TMPDIR; PAGER=memory keeps them in memory).
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
dir=${TMPDIR:-/tmp}/bench_settle.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
AGREEMENTS=${AGREEMENTS:-1000}
YEARS=${YEARS:-10}
n=$(python3 "$TOP/bench/gen_settle.py" "$dir" "$AGREEMENTS" "$YEARS") || exit 1
bytes=$(wc -c <"$dir/reports.jsonl")
run() {
	/usr/bin/time -f '%e %M' -o "$dir/time" taskset -c 0 \
	    "$TOP/$BUILD/shanhai" settle --rules "$dir/rules" \
	    --pager "${PAGER:-file}" "$1" >"$dir/out" || exit 1
	read -r secs rss <"$dir/time"
}
run "$dir/reports.jsonl"
entries=$(wc -l <"$dir/out")
python3 - "$n" "$bytes" "$entries" "$secs" "$rss" "$AGREEMENTS" "$YEARS" <<'PY'
import sys
n, size, entries = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
secs, rss = float(sys.argv[4]), int(sys.argv[5])
rate = n / secs if secs > 0 else float("inf")
print("settle: %d agreements x %s years monthly: %d reports (%.1f MB), %d entries"
      % (int(sys.argv[6]), sys.argv[7], n, size / 1e6, entries))
print("settle: %.2f s, %.0f reports/s (target 100000), peak RSS %.1f MB"
      % (secs, rate, rss / 1024))
PY
# Memory against history: the same agreements over half the years.
head -n $((n / 2)) "$dir/reports.jsonl" >"$dir/half.jsonl"
run "$dir/half.jsonl"
echo "settle: first half of the reports: peak RSS $((rss / 1024)) MB"
[ "${LONG:-1}" = 0 ] && exit 0
# Four times the years: the same agreements, 4x the history.
mkdir -p "$dir/long"
n4=$(python3 "$TOP/bench/gen_settle.py" "$dir/long" "$AGREEMENTS" $((YEARS * 4))) || exit 1
run "$dir/long/reports.jsonl"
python3 -c 'import sys; n, s, r = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]); print("settle: %d years (%d reports): %.2f s, %.0f reports/s, peak RSS %.1f MB" % (int(sys.argv[4]), n, s, n / s if s > 0 else 0, r / 1024))' \
    "$n4" "$secs" "$rss" $((YEARS * 4))
