#!/bin/sh
# SIGTERM: stop accepting, finish what is in flight, exit 0 within seconds,
# also with idle keep-alive and half-open connections around.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
write_config "$T/etc/shanhaid.conf" "$port"
start_daemon "$T/etc/shanhaid.conf"

# An idle TLS connection that stays open, and a TCP one that never speaks.
(sleep 30) | openssl s_client -quiet -connect "127.0.0.1:$port" \
    -CAfile "$T/pki/ca.crt" -cert "$T/pki/auditor.crt" -key "$T/pki/auditor.key" \
    >/dev/null 2>&1 &
PIDS="$PIDS $!"
python3 -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); time.sleep(30)' "$port" &
PIDS="$PIDS $!"
sleep 0.3
as auditor "https://127.0.0.1:$port/v1/agreements" | tail -1 | grep -qx 200 || fail "not serving"

start=$(date +%s)
kill -TERM "$DPID"
rc=0; wait_exit "$DPID" 5 || rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
[ $(($(date +%s) - start)) -le 3 ] || fail "took more than 3 s to stop"
grep -q 'signal 15: stopping' "$T/daemon.log" || fail "stop not logged"
grep -q 'stopped: no request left in flight' "$T/daemon.log" || fail "drain not logged"
curl -s -o /dev/null --cacert "$T/pki/ca.crt" "https://127.0.0.1:$port/healthz" &&
    fail "still accepting after SIGTERM"

# SIGINT does the same.
: > "$T/daemon.log"
start_daemon "$T/etc/shanhaid.conf"
kill -INT "$DPID"
rc=0; wait_exit "$DPID" 5 || rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after SIGINT"
echo "sigterm: ok"
