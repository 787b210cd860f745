#!/bin/sh
# The year statement's documents: a monthly agreement's year (the
# kecheng-yuhang 2026 fixture: 12 periods, 3 taxes, 3 beneficiaries) in
# every format, timed in process: the first render, then the median and
# worst of DOC_RUNS more. Target: PDF and XLSX under 200 ms each.
set -eu
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
"$TOP/$BUILD/bench/bench_documents" \
	"$TOP/tests/documents/kecheng-yuhang-2026.model.json" "${DOC_RUNS:-20}"
