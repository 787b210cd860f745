#!/bin/sh
# Replays every fuzz target's checked-in corpus (fuzz/corpus/<t>/) and past
# crashes (fuzz/regress/<t>/) through the target's properties, built with
# the ordinary compiler ($BUILD/fuzz/replay_<t>), so a crash the fuzzer once
# found stays fixed, under ASAN=1 too.
set -e
n=0
for r in "$BUILD"/fuzz/replay_*; do
	case $r in *.d) continue ;; esac
	t=fuzz_${r##*/replay_}
	set --
	for d in "$TOP/fuzz/corpus/$t" "$TOP/fuzz/regress/$t"; do
		[ -d "$d" ] && set -- "$@" "$d"
	done
	[ $# -gt 0 ] || { echo "$t: no corpus in fuzz/corpus/$t"; exit 1; }
	"$r" "$@"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no replayers in $BUILD/fuzz"; exit 1; }
