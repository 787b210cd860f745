#!/bin/sh
# make bench: runs every bench/bench_*.sh in name order. Benchmarks print
# figures against their targets; they are not tests and do not fail on time.
BUILD=${BUILD:-build}
export BUILD
TOP=$(pwd)
export TOP
for b in bench/bench_*.sh; do
	[ -f "$b" ] || continue
	echo "=== $(basename "$b" .sh)"
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/shanhai-bench.XXXXXX")
	TMPDIR=$scratch sh "$b" || echo "--- $(basename "$b" .sh) exited $?"
	rm -rf "$scratch"
done
