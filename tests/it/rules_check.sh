#!/bin/sh
# Rules validation: tests/rules-invalid holds one bad agreement per rule of
# SPEC §4 (and per choice in doc/DESIGN.md), and expected.txt the exact
# "file:line: message" of each, in file name order. The sample agreements
# in rules/ must all pass.
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
bin=$TOP/$BUILD/shanhai
out=${TMPDIR:-/tmp}/rules_check.$$
fail=0
cd "$TOP/tests" || exit 1
"$bin" rules check rules-invalid >"$out.out" 2>"$out.err"
rc=$?
[ $rc = 1 ] || { echo "FAIL: rules check of rules-invalid exited $rc, want 1"; fail=1; }
if ! cmp -s "$out.err" rules-invalid/expected.txt; then
	echo "FAIL: messages differ from rules-invalid/expected.txt"
	diff rules-invalid/expected.txt "$out.err"
	fail=1
fi
n=$(ls rules-invalid/*.conf | wc -l)
m=$(wc -l <rules-invalid/expected.txt)
[ "$n" = "$m" ] || { echo "FAIL: $n bad files but $m messages"; fail=1; }
cd "$TOP" || exit 1
"$bin" rules check rules >"$out.out" 2>&1 || { echo "FAIL: sample rules refused"; cat "$out.out"; fail=1; }
"$bin" rules check "$TOP/tests/no-such-dir" >/dev/null 2>&1
[ $? = 2 ] || { echo "FAIL: a missing folder must exit 2"; fail=1; }
"$bin" rules >/dev/null 2>&1
[ $? = 2 ] || { echo "FAIL: usage must exit 2"; fail=1; }
rm -f "$out.out" "$out.err"
[ $fail = 0 ] && echo "rules check: $n invalid files refused with the expected messages"
exit $fail
