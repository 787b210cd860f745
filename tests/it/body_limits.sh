#!/bin/sh
# Requests evhttp refuses on its own, before any route sees them, still get
# SPEC 7's problem+json: bodies of 3 x limits.max_body (declared, chunked,
# and through `shanhai submit`), a malformed request line, headers over
# limits.max_header, an unknown method. The daemon serves on afterwards.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port" 'limits = { max_body = 1024; max_header = 2048; };'
start_daemon "$c"
base=https://127.0.0.1:$port
hdr=$T/headers

# problem STATUS WHAT DETAIL-PATTERN OUTPUT-OF-as
problem() {
	[ "$(printf '%s\n' "$4" | tail -1)" = "$1" ] || fail "$2: got $(printf '%s' "$4" | tr '\n' ' ')"
	grep -qi '^content-type: application/problem+json' "$hdr" || fail "$2: not problem+json: $(cat "$hdr")"
	printf '%s\n' "$4" | sed '$d' | python3 -c '
import json, sys
p = json.load(sys.stdin)
assert p["type"] == "about:blank" and p["status"] == int(sys.argv[1]), p
assert p["title"] and p["detail"].startswith(sys.argv[2]), p
' "$1" "$3" || fail "$2: problem: $4"
}
python3 -c 'print("{\"pad\":\"" + "x" * 3060 + "\"}")' > "$T/big.json"	# 3 x max_body
post() { as yuhang "$base/v1/reports" -D "$hdr" -H 'Content-Type: application/json' "$@"; }

out=$(post --data-binary @"$T/big.json")
problem 413 "3 x max_body" "body: more than limits.max_body (1024 bytes)" "$out"
out=$(post -H 'Transfer-Encoding: chunked' --data-binary @"$T/big.json")
problem 413 "3 x max_body, chunked" "body: more than limits.max_body (1024 bytes)" "$out"
head -c 1500 "$T/big.json" > "$T/mid.json"	# between the limit and twice it
out=$(post --data-binary @"$T/mid.json")
problem 413 "1.5 x max_body" "body: 1500 bytes, more than limits.max_body (1024)" "$out"
set +e
"$BUILD/shanhai" submit --url "$base" --cert "$T/pki/yuhang.crt" --key "$T/pki/yuhang.key" \
    --cacert "$T/pki/ca.crt" "$T/big.json" >/dev/null 2>"$T/submit.err"
rc=$?
set -e
[ $rc = 1 ] || fail "submit of 3 x max_body: exit $rc: $(cat "$T/submit.err")"
grep -q '^shanhai submit: refused (413): body: more than limits.max_body (1024 bytes)' "$T/submit.err" ||
    fail "submit of 3 x max_body: $(cat "$T/submit.err")"

out=$(as auditor "$base/v1/agreements" -D "$hdr" -H "X-Pad: $(python3 -c 'print("y" * 3000)')")
problem 400 "headers over max_header" "request: " "$out"
out=$(as auditor "$base/v1/agreements" -D "$hdr" -X PATCH)
problem 501 "PATCH" "method: " "$out"
out=$(post -H "Expect: something" --data-binary "{}")
problem 417 "Expect" "Expect: " "$out"
wait_log 'refused by libevent: 413 body: more than limits.max_body'

# Still serving, on a kept-alive connection too.
out=$(as auditor "$base/v1/agreements" -o /dev/null "$base/v1/agreements")
[ "$(printf '%s\n' "$out" | tail -1)" = 200 ] || fail "not serving after the refusals: $out"
echo "body_limits: ok"
