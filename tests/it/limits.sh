#!/bin/sh
# Limits from the config, changed by reload: client_rate (429),
# client_connections (429), max_connections (waits), request_timeout; and
# `user`: started as root, the daemon runs as that user.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
cp "$c" "$c.good"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	echo 'user = "nobody";' >> "$c"
	# What the unit's DynamicUser gets: its state, and its key readable.
	chmod 755 "$T" "$T/etc" "$T/etc/tls" "$T/etc/rules"
	chmod 644 "$T"/etc/tls/*.crt "$T"/etc/rules/*
	chown nobody "$T/etc/ledger.key"* "$T/etc/tls/server.key"
	chown -R nobody "$T/etc/state"
fi
start_daemon "$c"
url=https://127.0.0.1:$port/v1/agreements
if grep -q '^user = "nobody"' "$c"; then
	uid=$(awk '/^Uid:/ { print $2 }' /proc/$DPID/status)
	[ "$uid" = "$(id -u nobody)" ] || fail "runs as uid $uid, not nobody"
	grep -q 'running as user nobody' "$T/daemon.log" || fail "user switch not logged"
fi
reloads=0
reload_with() {	# reload_with 'limits = { … };'
	cp "$c" "$c.prev"
	grep -v '^limits' "$c.prev" > "$c"
	echo "$1" >> "$c"
	reloads=$((reloads + 1))
	kill -HUP "$DPID"
	i=0
	until [ "$(grep -c 'reload: done' "$T/daemon.log")" -ge $reloads ]; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "reload $reloads not taken"; sleep 0.05
	done
}

# client_rate: 2 a second, bursts of 2; the third at once is 429.
reload_with 'limits = { client_rate = 2; };'
curl -s -w '%{http_code}\n' --cacert "$T/pki/ca.crt" \
    --cert "$T/pki/auditor.crt" --key "$T/pki/auditor.key" \
    -o /dev/null "$url" -o /dev/null "$url" -o /dev/null "$url" > "$T/codes"
[ "$(tr '\n' ' ' < "$T/codes")" = "200 200 429 " ] || fail "rate: $(cat "$T/codes")"
wait_log 'GET /v1/agreements 429 provincial-audit'
sleep 1
as auditor "$url" | tail -1 | grep -qx 200 || fail "rate did not refill"

# client_connections: 1; a second connection of the same client is 429.
reload_with 'limits = { client_connections = 1; };'
(sleep 1.5) | openssl s_client -quiet -connect "127.0.0.1:$port" -CAfile "$T/pki/ca.crt" \
    -cert "$T/pki/auditor.crt" -key "$T/pki/auditor.key" >/dev/null 2>&1 &
idle=$!
PIDS="$PIDS $idle"
printf 'GET /v1/agreements HTTP/1.1\r\nHost: x\r\n\r\n' > "$T/req"
(cat "$T/req"; sleep 1.5) | openssl s_client -quiet -connect "127.0.0.1:$port" \
    -CAfile "$T/pki/ca.crt" -cert "$T/pki/auditor.crt" -key "$T/pki/auditor.key" \
    > "$T/first" 2>/dev/null &
busy=$!
PIDS="$PIDS $busy"
sleep 0.5
out=$(as auditor "$url"); [ "$(printf '%s\n' "$out" | tail -1)" = 429 ] || fail "second connection: $out"
printf '%s\n' "$out" | grep -q 'limits.client_connections (1)' || fail "429 detail: $out"
grep -q '^HTTP/1.1 200' "$T/first" || fail "first connection not served"

# max_connections: 2; a third waits in the backlog until one closes.
reload_with 'limits = { max_connections = 2; };'
# s_client -quiet stays until the server closes: end the ones above.
kill $idle $busy 2>/dev/null || true
sleep 0.5
python3 - "$port" <<'PY' &
import socket, sys, time
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
b = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(1.0)
PY
PIDS="$PIDS $!"
sleep 0.3
wait_log 'limits.max_connections \(2\) reached'
start=$(date +%s%N)
out=$(as none "https://127.0.0.1:$port/healthz" --max-time 5 || true)
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(printf '%s\n' "$out" | tail -1)" = 200 ] || fail "third connection never served: $out"
[ $ms -ge 300 ] || fail "third connection served at once ($ms ms), not after one closed"
wait_log 'accepting again'

# request_timeout: a connection that says nothing is closed.
reload_with 'limits = { request_timeout = 1; };'
python3 - "$port" <<'PY' || fail "silent connection not closed after request_timeout"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(4)
t = time.time()
assert s.recv(1) == b"", "data from server"
assert 0.8 < time.time() - t < 3, time.time() - t
PY
wait_log 'no request within 1s: closing'

# idle_timeout: a connection silent after its answer is closed, with a
# TLS close_notify first (a bare EOF would raise in the client).
reload_with 'limits = { idle_timeout = 1; };'
python3 - "$port" "$T/pki" <<'PY' || fail "idle connection not closed after idle_timeout"
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2] + "/ca.crt")
ctx.load_cert_chain(sys.argv[2] + "/auditor.crt", sys.argv[2] + "/auditor.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="localhost", suppress_ragged_eofs=False)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
s.settimeout(4)
got = b""
while b"serving\n" not in got:
    got += s.recv(4096)
t = time.time()
assert s.recv(1) == b"", "more data"
assert 0.5 < time.time() - t < 3, time.time() - t
PY

kill -TERM "$DPID"
rc=0; wait_exit "$DPID" 5 || rc=$?
[ "$rc" = 0 ] || fail "exit $rc"
echo "limits: ok"
