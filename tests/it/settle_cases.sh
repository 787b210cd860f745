#!/bin/sh
# Table-driven settlement cases: every tests/cases/NAME/ holds rules/,
# reports.jsonl and expected.jsonl (the exact stdout of `shanhai settle`),
# optionally expected.stderr (exact stderr; messages name "reports.jsonl")
# and expected.exit (default 0). The case is run from inside its folder,
# once per pager mode: closed years in a file (the default), everything in
# memory, and every year paged out after every report.
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
bin=$TOP/$BUILD/shanhai
out=${TMPDIR:-/tmp}/settle_cases.$$
mkdir -p "$out"
fail=0
n=0
for mode in file memory all; do
for c in "$TOP"/tests/cases/*/; do
	name=$(basename "$c")/$mode
	[ -f "$c/reports.jsonl" ] || continue
	n=$((n + 1))
	want_exit=0
	[ -f "$c/expected.exit" ] && want_exit=$(cat "$c/expected.exit")
	mkdir -p "$out/$(dirname "$name")"
	(cd "$c" && "$bin" settle --rules rules --pager "$mode" reports.jsonl) \
	    >"$out/$name.out" 2>"$out/$name.err"
	got_exit=$?
	ok=1
	if ! cmp -s "$out/$name.out" "$c/expected.jsonl"; then
		echo "FAIL $name: stdout differs"
		diff "$c/expected.jsonl" "$out/$name.out" | head -20
		ok=0
	fi
	if [ -f "$c/expected.stderr" ]; then
		if ! cmp -s "$out/$name.err" "$c/expected.stderr"; then
			echo "FAIL $name: stderr differs"
			diff "$c/expected.stderr" "$out/$name.err" | head -20
			ok=0
		fi
	elif [ -s "$out/$name.err" ]; then
		echo "FAIL $name: unexpected stderr"
		head -5 "$out/$name.err"
		ok=0
	fi
	if [ "$got_exit" != "$want_exit" ]; then
		echo "FAIL $name: exit $got_exit, want $want_exit"
		ok=0
	fi
	if [ $ok = 1 ]; then
		echo "ok $name"
	else
		fail=$((fail + 1))
	fi
done
done
# The shared examples themselves, where the project sits beside them (as
# on the developers' machines and in CI): all four agreements loaded at once.
ex=$TOP/../shared/examples
if [ -d "$ex/rules" ]; then
	for r in "$ex"/reports/*.jsonl; do
		n=$((n + 1))
		b=$(basename "$r")
		if "$bin" settle --rules "$ex/rules" "$r" >"$out/ex.out" 2>"$out/ex.err" &&
		    cmp -s "$out/ex.out" "$ex/expected/$b" && ! [ -s "$out/ex.err" ]; then
			echo "ok shared/examples/$b"
		else
			echo "FAIL shared/examples/$b"
			diff "$ex/expected/$b" "$out/ex.out" | head -20
			head -5 "$out/ex.err"
			fail=$((fail + 1))
		fi
	done
fi
rm -rf "$out"
echo "settle cases: $n run, $fail failed"
[ "$n" -gt 0 ] && [ "$fail" -eq 0 ]
