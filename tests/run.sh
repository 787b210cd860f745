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
ONLY=${TESTS:-}

run_one() {
	name=$1; shift
	case " $ONLY " in
	"  ") ;;
	*" $name "*) ;;
	*) return 0 ;;
	esac
	echo "=== $name"
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/shanhai-test.XXXXXX")
	if TMPDIR=$scratch timeout -k 5 "$LIMIT" "$@" 2>&1; then
		passed=$((passed + 1))
		echo "--- ok $name"
		rm -rf "$scratch"
	else
		rc=$?
		failed=$((failed + 1))
		failures="$failures $name"
		echo "--- FAIL $name (exit $rc; scratch kept in $scratch)"
	fi
}

for t in "$BUILD"/tests/test_*; do
	case $t in *.o|*.d) continue ;; esac
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
for s in tests/it/*.sh; do
	[ -f "$s" ] || continue
	run_one "$(basename "$s" .sh)" sh "$s"
done

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
