#!/bin/sh
# Differential test: `shanhai settle` against the independent Python
# reference of SPEC §2-5 (tests/ref) on generated agreements and report runs
# (every term kind, floors, caps, fractions, confirm, corrections, disputes,
# duplicates, refusals, interleaved agreements). Fixed seeds: reproducible.
# A second, shorter run pages every year out after every report
# (doc/DESIGN.md, Engine).
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
python3 "$TOP/tests/ref/difftest.py" --shanhai "$TOP/$BUILD/shanhai" \
    --seed 20261127 --count ${DIFFTEST_COUNT:-80} --keep "${TMPDIR:-/tmp}/difftest" ||
    exit 1
w=${TMPDIR:-/tmp}/shanhai-pager-all
cat >"$w" <<EOF
#!/bin/sh
[ "\$1" = settle ] && shift && exec "$TOP/$BUILD/shanhai" settle --pager all "\$@"
exec "$TOP/$BUILD/shanhai" "\$@"
EOF
chmod +x "$w"
exec python3 "$TOP/tests/ref/difftest.py" --shanhai "$w" \
    --seed 20261128 --count ${DIFFTEST_PAGED_COUNT:-20} \
    --keep "${TMPDIR:-/tmp}/difftest-paged"
