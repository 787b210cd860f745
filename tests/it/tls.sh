#!/bin/sh
# Mutual TLS and the HTTP front with real clients (curl, openssl s_client):
# who is let in, who is refused and how the refusal is logged, limits, and
# problem+json errors.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
sed -i "s/^listen = .*/listen = [ \"127.0.0.1:$port\", \"[::1]:$port\" ];/" "$c"
start_daemon "$c"
base=https://127.0.0.1:$port

expect() {	# expect STATUS OUTPUT-OF-as WHAT
	[ "$(printf '%s\n' "$2" | tail -1)" = "$1" ] || fail "$3: got $(printf '%s' "$2" | tr '\n' ' ')"
}

# /healthz needs no certificate, over IPv4 and IPv6.
out=$(as none "$base/healthz"); expect 200 "$out" "healthz without a certificate"
printf '%s\n' "$out" | grep -qx serving || fail "healthz body: $out"
out=$(as none "https://[::1]:$port/healthz"); expect 200 "$out" "healthz over IPv6"
out=$(as none "$base/healthz" -I); expect 200 "$out" "HEAD /healthz"
printf '%s\n' "$out" | grep -q '^serving' && fail "HEAD answered with a body"

# Mapped clients: by fingerprint, by common name, by both.
out=$(as yuhang "$base/v1/agreements"); expect 200 "$out" "bureau by fingerprint"
printf '%s\n' "$out" | head -1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
ids = [a["id"] for a in d["agreements"]]
assert ids == ["kecheng-yuhang"], ids   # a bureau sees its own agreements
assert d["agreements"][0]["terms"][0]["from"] == "2017-07", d["agreements"][0]["terms"]
' || fail "GET /v1/agreements: $out"
out=$(as auditor "$base/v1/agreements"); expect 200 "$out" "auditor by common name"
printf '%s\n' "$out" | head -1 | python3 -c '
import json, sys
ids = [a["id"] for a in json.load(sys.stdin)["agreements"]]
assert ids == ["kaihua-tongxiang", "kecheng-yuhang", "longquan-xiaoshan",
               "qujiang-yinzhou"], ids
' || fail "the auditor does not see every agreement: $out"
out=$(as operator "$base/v1/agreements"); expect 200 "$out" "operator by both"

# No certificate on a route that needs one: 403 problem+json, logged.
hdr=$T/headers
out=$(as none "$base/v1/agreements" -D "$hdr"); expect 403 "$out" "no certificate"
grep -qi '^content-type: application/problem+json' "$hdr" || fail "403 is not problem+json"
printf '%s\n' "$out" | head -1 | grep -q '"detail":"certificate: a client certificate is required"' ||
    fail "403 detail: $out"
wait_log '127\.0\.0\.1:[0-9]+ -: GET /v1/agreements 403'

# A good certificate that no client entry names: 403, with its fingerprint.
out=$(as stranger "$base/v1/agreements"); expect 403 "$out" "unmapped certificate"
printf '%s\n' "$out" | grep -q 'is not one of the configured clients' || fail "403 detail: $out"
wait_log "127\.0\.0\.1:[0-9]+ $(fpr stranger | cut -c1-8): GET /v1/agreements 403"

# Refused at the handshake, logged with the peer's address and why.
out=$(as expired "$base/v1/agreements" || true)
printf '%s\n' "$out" | tail -1 | grep -qx 000 || fail "expired certificate let in: $out"
wait_log '127\.0\.0\.1:[0-9]+ -: client certificate refused: certificate has expired'
out=$(as other "$base/v1/agreements" || true)
printf '%s\n' "$out" | tail -1 | grep -qx 000 || fail "other CA let in: $out"
wait_log '127\.0\.0\.1:[0-9]+ -: client certificate refused: unable to get local issuer certificate'
openssl s_client -tls1_2 -connect "127.0.0.1:$port" -CAfile "$T/pki/ca.crt" \
    </dev/null >"$T/s_client12" 2>&1 && fail "TLS 1.2 handshake succeeded"
wait_log '127\.0\.0\.1:[0-9]+ -: TLS handshake refused: protocol version'
out=$(as none "$base/healthz" --tls-max 1.2 || true)
printf '%s\n' "$out" | tail -1 | grep -qx 000 || fail "curl TLS 1.2 let in"
# TLS 1.3 with s_client: the server speaks TLSv1.3 and closes with close_notify.
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/pki/ca.crt" \
    -verify_return_error -ign_eof >"$T/s_client13" 2>&1 || fail "s_client TLS 1.3: $(cat "$T/s_client13")"
grep -q 'Protocol  *: TLSv1.3' "$T/s_client13" || fail "not TLS 1.3"
grep -q '^serving' "$T/s_client13" || fail "no answer over s_client"

# Resumption keeps the client's identity (session id context): a resumed
# session without a certificate on the wire is still the auditor.
printf 'GET /v1/agreements HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' > "$T/req"
openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/pki/ca.crt" \
    -cert "$T/pki/auditor.crt" -key "$T/pki/auditor.key" -sess_out "$T/sess" \
    -ign_eof < "$T/req" > "$T/s1" 2>&1 || fail "first session: $(cat "$T/s1")"
openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/pki/ca.crt" \
    -sess_in "$T/sess" -ign_eof < "$T/req" > "$T/s2" 2>&1 || fail "resumed session: $(cat "$T/s2")"
grep -q '^Reused, TLSv1.3' "$T/s2" || fail "session not resumed: $(cat "$T/s2")"
grep -q '^HTTP/1.1 200' "$T/s2" || fail "resumed session lost its identity: $(grep '^HTTP\|detail' "$T/s2")"
# The server sends its leaf alone: its chain is built once at load, without
# the root that the client holds anyway.
openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/pki/ca.crt" -showcerts \
    < /dev/null > "$T/s3" 2>&1 || true
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/s3")" = 1 ] || fail "server chain: $(grep -c 'BEGIN CERTIFICATE' "$T/s3") certificates sent"

# Malformed requests and oversized headers are refused; the daemon stays.
printf 'garbage\r\n\r\n' | openssl s_client -quiet -connect "127.0.0.1:$port" \
    -CAfile "$T/pki/ca.crt" 2>/dev/null | head -1 | grep -q '^HTTP/1.1 400' ||
    fail "garbage request not refused with 400"
head -c 10000 /dev/zero | tr '\0' a > "$T/bighdr"
out=$(as none "$base/healthz" -H "X-Big: $(cat "$T/bighdr")" -o /dev/null)
case $(printf '%s\n' "$out" | tail -1) in 4??) ;; *) fail "10 kB header: $out" ;; esac
out=$(as none "$base/healthz"); expect 200 "$out" "healthz after bad requests"

# Limits: too large a body is 413 problem+json naming the limit; far too
# large is refused before it is read.
head -c 70000 /dev/zero | tr '\0' 'x' > "$T/big"
out=$(as yuhang "$base/v1/agreements" --data-binary @"$T/big" -H 'Content-Type: application/json')
expect 413 "$out" "70000-byte body"
printf '%s\n' "$out" | grep -q '"detail":"body: 70000 bytes, more than limits.max_body (65536)"' ||
    fail "413 detail: $out"
head -c 1000000 /dev/zero > "$T/huge"
out=$(as yuhang "$base/v1/agreements" --data-binary @"$T/huge" -o /dev/null)
expect 413 "$out" "1 MB body"

# Unknown path and wrong method.
out=$(as auditor "$base/v1/nothing"); expect 404 "$out" "unknown path"
out=$(as auditor "$base/v1/agreements" -X DELETE -D "$hdr"); expect 405 "$out" "DELETE"
grep -qi '^allow: GET' "$hdr" || fail "405 without Allow"

kill -TERM "$DPID"
rc=0; wait_exit "$DPID" 5 || rc=$?
[ "$rc" = 0 ] || fail "exit $rc"
echo "tls: ok"
