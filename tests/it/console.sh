#!/bin/sh
# The web console (issue 16): shanhaid serves the built console under the
# client-certificate rules, with its CSP, types and caching (curl), and
# every user's job is done in Debian's Chromium driven by playwright-core
# (console/test/browser.mjs). Screenshots and speed figures go to
# $BUILD/console-shots. Skipped only when chromium cannot be had.
. "$TOP/tests/itlib.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	echo "skipped: no chromium ($CHROMIUM; .ci/deps installs Debian's chromium)"
	exit 0
fi
[ -f "$BUILD/console/index.html" ] || fail "the console is not built: make console"
[ -d "$TOP/console/node_modules/playwright-core" ] || fail "no playwright-core: make console runs npm ci"
# The console's pure modules (amounts, the auditor's checks) under node's
# test runner, against receipts `shanhai fixture` signs for every report
# entry of a ledger at three tree sizes each.
fx=$T/fixtures
mkdir -p "$fx"
"$BUILD/shanhai" keygen --origin test.example/shanhai --out "$fx/k.key" >/dev/null
"$BUILD/shanhai" fixture build --rules "$TOP/rules" \
    "$TOP/tests/cases/example-kecheng-yuhang-2026/reports.jsonl" > "$fx/ledger.jsonl" ||
    fail "fixture build"
n=$(wc -l < "$fx/ledger.jsonl")
for i in $(grep -n '"type":"report"' "$fx/ledger.jsonl" | cut -d: -f1); do
	i=$((i - 1))
	for s in $((i + 1)) $(((i + 1 + n) / 2)) "$n"; do
		"$BUILD/shanhai" fixture receipt --key "$fx/k.key" \
		    --origin test.example/shanhai --index $i --size $s \
		    "$fx/ledger.jsonl" > "$fx/receipt-$i-$s.json" || fail "fixture receipt $i $s"
	done
done
FIXTURES=$fx VKEY=$fx/k.key.vkey node --test "$TOP/console/test/units.test.mjs" \
    > "$T/units.out" 2>&1 || { cat "$T/units.out"; fail "console unit tests"; }
grep '^# pass\|^# fail' "$T/units.out"

pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port" "console_dir = \"$BUILD/console\";"
start_daemon "$c"
base=https://127.0.0.1:$port
hdr() {	# WHO PATH: status line and headers
	if [ "$1" = none ]; then
		curl -s -o "$T/body" -D - --cacert "$T/pki/ca.crt" "$base$2"
	else
		curl -s -o "$T/body" -D - --cacert "$T/pki/ca.crt" \
		    --cert "$T/pki/$1.crt" --key "$T/pki/$1.key" "$base$2"
	fi | tr -d '\r'
}
js=$(sed -n 's|.*src="/console/\([^"]*\)".*|\1|p' "$BUILD/console/index.html")
css=$(sed -n 's|.*href="/console/\([^"]*\.css\)".*|\1|p' "$BUILD/console/index.html")
[ -n "$js" ] && [ -n "$css" ] || fail "index.html names no bundle"

# Each file with its type, the policy, and its caching.
while read -r who path status type cache; do
	h=$(hdr "$who" "$path")
	printf '%s\n' "$h" | head -1 | grep -q " $status" ||
	    fail "$who $path: $(printf '%s\n' "$h" | head -1), expected $status"
	[ "$type" = - ] || printf '%s\n' "$h" | grep -qi "^content-type: $type" ||
	    fail "$who $path: not $type: $h"
	[ "$cache" = - ] || printf '%s\n' "$h" | grep -qi "^cache-control: $cache" ||
	    fail "$who $path: not cached as $cache: $h"
	case $status:$path in 200:/console*|403:/console*)
		printf '%s\n' "$h" | grep -q "^Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self';" ||
		    fail "$who $path: no strict CSP: $h"
		printf '%s\n' "$h" | grep -qi '^x-content-type-options: nosniff' ||
		    fail "$who $path: no nosniff";;
	esac
done <<LIST
yuhang /console/ 200 text/html no-cache
auditor /console/index.html 200 text/html no-cache
yuhang /console/$js 200 text/javascript public,.max-age=31536000,.immutable
operator /console/$css 200 text/css public,.max-age=31536000,.immutable
yuhang /console/size.txt 200 text/plain no-cache
yuhang /console/nothing-here.js 404 application/problem+json -
yuhang /console/..%2Fshanhaid.conf 404 application/problem+json -
yuhang /console/.hidden.js 404 application/problem+json -
yuhang /console/build.mjs 404 application/problem+json -
none /console/ 403 text/html no-store
stranger /console/ 403 text/html no-store
none /console/$js 403 text/html no-store
none / 303 - -
yuhang /console 303 - -
none /v1/whoami 403 application/problem+json -
LIST
hdr none / | grep -qi '^location: /console/' || fail "/ does not lead to /console/"
hdr none /console/ >/dev/null
grep -q 'shanhai test CA' "$T/body" || fail "the refusal does not name the CA"
grep -q '<script' "$T/body" && fail "the refusal page runs script"
hdr stranger /console/ >/dev/null
grep -q "$(fpr stranger)" "$T/body" || fail "the refusal does not show the fingerprint it saw"

# GET /v1/whoami: who the certificate is.
as yuhang "$base/v1/whoami" > "$T/who"
[ "$(tail -1 "$T/who")" = 200 ] || fail "whoami: $(cat "$T/who")"
sed '$d' "$T/who" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["name"] == "yuhang-finance" and d["role"] == "bureau" and d["codes"] == ["330110"], d
assert len(d["fingerprint"]) == 64, d' || fail "whoami answer"
as auditor "$base/v1/whoami" | sed '$d' | grep -q '"role":"auditor","codes":\[\]' || fail "whoami auditor"

# The daemon still answers when the console is not built: a clear 503.
mkdir -p "$T/empty"
write_config "$T/etc2/shanhaid.conf" "$(free_port)" "console_dir = \"$T/empty\";"
start_daemon "$T/etc2/shanhaid.conf"
port2=$(sed -n 's/^listen = \[ "127.0.0.1:\([0-9]*\)".*/\1/p' "$T/etc2/shanhaid.conf")
as yuhang "https://127.0.0.1:$port2/console/" > "$T/nb"
[ "$(tail -1 "$T/nb")" = 503 ] && grep -q 'make console' "$T/nb" ||
    fail "console not built: $(cat "$T/nb")"

# The browser.
out=$BUILD/console-shots
mkdir -p "$out"
vkey=$T/etc/ledger.key.vkey
[ -f "$vkey" ] || fail "no verifier key next to ledger.key"
CONSOLE_DIR=$BUILD/console CHROMIUM=$CHROMIUM timeout 240 \
    node "$TOP/console/test/browser.mjs" "$base" "$T/pki" "$out" \
    "$T/etc/rules" "$BUILD/shanhai" "$vkey" > "$T/browser.out" 2>&1 ||
    { cat "$T/browser.out" >&2; fail "browser flows"; }
cat "$T/browser.out"
echo "screenshots: $out/console-*.png"
