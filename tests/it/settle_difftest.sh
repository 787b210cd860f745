#!/bin/sh
# Differential test: `shanhai settle` against the independent Python
# reference of SPEC §2-5 (tests/ref) on generated agreements and report runs
# (every term kind, floors, caps, fractions, confirm, corrections, disputes,
# duplicates, refusals, interleaved agreements). Fixed seeds: reproducible.
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
exec python3 "$TOP/tests/ref/difftest.py" --shanhai "$TOP/$BUILD/shanhai" \
    --seed 20261127 --count ${DIFFTEST_COUNT:-80} --keep "${TMPDIR:-/tmp}/difftest"
