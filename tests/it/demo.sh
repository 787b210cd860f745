#!/bin/sh
# make demo's script, run as `make demo` runs it: every step must run and it
# must end with the ledger verified (exit 0), in well under a minute, leave
# no process running and remove its folder.
set -u
BUILD=${BUILD:-build}
T=${TMPDIR:-/tmp}
start=$(date +%s)
BUILD=$BUILD TMPDIR=$T sh tests/demo.sh > "$T/demo.out" 2>&1
rc=$?
cat "$T/demo.out"
took=$(($(date +%s) - start))
fail=0
case $rc in
0)	grep -q "ledger verified" "$T/demo.out" ||
		{ echo "demo exited 0 without verifying the ledger"; fail=1; } ;;
3)	echo "demo: incomplete: a step could not run (named above)"; fail=1 ;;
*)	echo "demo failed: exit $rc"; fail=1 ;;
esac
if pgrep -f "$T/shanhai-demo" > "$T/left" 2>/dev/null; then
	echo "demo left processes running:"; cat "$T/left"; fail=1
fi
if [ $rc = 0 ] && ls -d "$T"/shanhai-demo.* > /dev/null 2>&1; then
	echo "demo left its folder behind"; fail=1
fi
[ $took -lt 60 ] || { echo "demo took $took s, more than a minute"; fail=1; }
[ $fail = 0 ] && echo "demo: exit $rc in $took s"
exit $fail
