#!/bin/sh
# make fuzz: runs every libFuzzer target in $FUZZ_BUILD for FUZZ_SECONDS,
# seeded from fuzz/corpus/<target>/ (checked in) and fuzz/regress/<target>/
# (past crashes). New inputs go to $FUZZ_BUILD/corpus/<target>/, a crash to
# $FUZZ_BUILD/crash/<target>-*: copy it into fuzz/regress/<target>/ once
# fixed, and `make check` replays it from then on. Exits 1 when any target
# found a crash.
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
# ASan's leak check on exit and UBSan's stack traces, as in make check.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Third-party leaks only, each with its reason: tests/lsan.supp.
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0}
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
failed=
ran=0
for f in "$FUZZ_BUILD"/fuzz_*; do
	case $f in *.d|*.o) continue ;; esac
	[ -x "$f" ] || continue
	t=$(basename "$f")
	work=$FUZZ_BUILD/corpus/$t
	mkdir -p "$work" "$FUZZ_BUILD/crash"
	seeds=
	for d in fuzz/corpus/$t fuzz/regress/$t; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	dict=
	[ -f "fuzz/$t.dict" ] && dict=-dict=fuzz/$t.dict
	echo "=== $t (${FUZZ_SECONDS}s)"
	# One job: the machine is shared; -max_total_time bounds the run.
	if "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=1024 \
	    -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/crash/$t-" \
	    $dict "$work" $seeds >"$FUZZ_BUILD/$t.log" 2>&1; then
		grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*DONE)' \
		    "$FUZZ_BUILD/$t.log" | sed 's/^/    /'
		echo "--- ok $t"
	else
		tail -60 "$FUZZ_BUILD/$t.log"
		echo "--- FAIL $t (log $FUZZ_BUILD/$t.log; artifacts in $FUZZ_BUILD/crash)"
		failed="$failed $t"
	fi
	ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || { echo "no fuzz targets in $FUZZ_BUILD"; exit 1; }
[ -z "$failed" ] || { echo "fuzz: crashes in:$failed"; exit 1; }
echo "fuzz: $ran targets, no crash"
