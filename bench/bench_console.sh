#!/bin/sh
# The web console's speed (issue 16), measured in Debian's Chromium by the
# browser test (tests/it/console.sh) against a daemon whose ledger holds
# over 1,000 entries: first page ready, a page of 1,000 ledger entries
# built and laid out, and the bundle's size. Prints each against its target.
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
export BUILD TOP
[ -x /usr/bin/chromium ] || { echo "skipped: no chromium"; exit 0; }
sh "$TOP/tests/it/console.sh" > "${TMPDIR:-/tmp}/console.out" 2>&1 || {
	tail -20 "${TMPDIR:-/tmp}/console.out"; exit 1; }
python3 - "$BUILD/console-shots/console-figures.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
rows = [
    ("first page ready (whoami, agreements, drawn)", f["first_page_ms"], "ms", 1000),
    ("  of which the document's DOM interactive", f["dom_interactive_ms"], "ms", None),
    ("1,000 ledger entries built and laid out", f["ledger_render_ms"], "ms", 200),
    ("  the whole ledger page (fetch + render)", f["ledger_page_ms"], "ms", None),
    ("bundle, JS+CSS+HTML", f["bundle_bytes"], "B", None),
    ("bundle, gzip", f["bundle_gzip_bytes"], "B", 1048576),
]
print("chromium %s, ledger of %d entries" % (f["chromium"], f["ledger_entries"]))
for name, v, unit, limit in rows:
    verdict = "" if limit is None else ("  (target < %d %s: %s)" % (limit, unit, "met" if v < limit else "MISSED"))
    print("  %-46s %10s %s%s" % (name, v, unit, verdict))
print("  XLSX download: %s" % f["xlsx"])
PY
