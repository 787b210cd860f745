#!/bin/sh
# Runs every test program: the cmocka unit binaries in $BUILD/tests, then the
# integration scripts in tests/it (each gets BUILD and a scratch TMPDIR).
# Output of each is merged into stdout; the last line is "N passed, N failed".
# A test program counts once; it fails when it exits non-zero or times out.
BUILD=${BUILD:-build}
export BUILD
TOP=$(pwd)
export TOP
passed=0
failed=0
failures=
LIMIT=${TEST_TIMEOUT:-300}
# CHECK_ONLY="name …" runs only the named tests (not TESTS: make sets that).
ONLY=$(printf '%s' "${CHECK_ONLY:-}" | tr '\n\t' '  ')
# Descriptors above stderr (e.g. the lock of `flock LOCK make check`) are not
# the tests' to hold: a daemon a test starts must not keep them open.
for fd in 3 4 5 6 7 8 9; do
	eval "exec $fd>&-"
done

# Under ASAN=1 every process a test starts (unit binaries, and the daemon and
# tools the integration tests run from $BUILD) reports to files in a folder of
# its own, so a report from a daemon whose stderr a test swallows, or from a
# leak at its exit, still fails the test: any report file is a failure.
sanitize() {
	[ "${ASAN:-}" = 1 ] || [ "${TSAN:-}" = 1 ] || return 0
	sanlog=$(mktemp -d "${TMPDIR:-/tmp}/shanhai-san.XXXXXX")
	# A daemon that switched to its `user` must still be able to report.
	chmod 1777 "$sanlog"
	# TSAN=1 likewise: a data race anywhere is a report file.
	TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:log_path=$sanlog/tsan"
	export TSAN_OPTIONS
	[ "${ASAN:-}" = 1 ] || return 0
	ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:log_path=$sanlog/asan${ASAN_EXTRA:+:$ASAN_EXTRA}"
	UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$sanlog/ubsan"
	LSAN_OPTIONS="suppressions=$TOP/tests/lsan.supp:print_suppressions=0"
	export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
}
sanitizer_reports() {
	[ "${ASAN:-}" = 1 ] || [ "${TSAN:-}" = 1 ] || return 1
	found=1
	for f in "$sanlog"/*; do
		[ -f "$f" ] || continue
		echo "sanitizer report $f:"
		cat "$f"
		found=0
	done
	rm -rf "$sanlog"
	return $found
}

run_one() {
	name=$1; shift
	case " $ONLY " in
	"  ") ;;
	*" $name "*) ;;
	*) return 0 ;;
	esac
	echo "=== $name"
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/shanhai-test.XXXXXX")
	sanitize
	t0=$(date +%s)
	if TMPDIR=$scratch timeout -k 5 "$LIMIT" "$@" 2>&1 &&
	    ! sanitizer_reports; then
		passed=$((passed + 1))
		echo "--- ok $name ($(($(date +%s) - t0)) s)"
		rm -rf "$scratch"
	else
		rc=$?
		sanitizer_reports
		failed=$((failed + 1))
		failures="$failures $name"
		echo "--- FAIL $name (exit $rc after $(($(date +%s) - t0)) s; scratch kept in $scratch)"
	fi
}

# VALGRIND=1 (make valgrind): the unit binaries under memcheck, no
# integration tests (the daemon under valgrind is ASAN=1's job, faster).
# Skipped there: test_merkle (every proof of every size up to 128, pure
# arithmetic: 10 s natively, over 300 s under memcheck; ASAN=1 runs it).
vg=
if [ "${VALGRIND:-}" = 1 ]; then
	ONLY_SKIP=${VALGRIND_SKIP-test_merkle}
	vg="valgrind --quiet --error-exitcode=99 --leak-check=full
	    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
	    --track-origins=yes --trace-children=no"
fi
for t in "$BUILD"/tests/test_*; do
	case $t in *.o|*.d) continue ;; esac
	[ -x "$t" ] || continue
	case " ${ONLY_SKIP:-} " in *" $(basename "$t") "*)
		echo "=== $(basename "$t") skipped under valgrind"; continue ;;
	esac
	run_one "$(basename "$t")" $vg "$t"
done
[ -n "$vg" ] && { [ -n "$failures" ] && echo "failed:$failures"; echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
for s in tests/it/*.sh; do
	[ -f "$s" ] || continue
	run_one "$(basename "$s" .sh)" sh "$s"
done

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
