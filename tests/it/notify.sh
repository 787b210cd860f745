#!/bin/sh
# The real sd_notify sequence through a start, a reload and a stop: shanhaid
# talks to a datagram socket this test listens on (NOTIFY_SOCKET), with the
# watchdog asked for (WATCHDOG_USEC).
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
write_config "$T/etc/shanhaid.conf" "$port"
sock=$T/notify.sock
python3 - "$sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w") as out:
    while True:
        msg = s.recv(4096).decode()
        out.write(msg.replace("\n", "|") + "\n")
        out.flush()
        if "STOPPING=1" in msg:
            break
PY
LPID=$!
PIDS="$PIDS $LPID"
i=0; until [ -S "$sock" ]; do i=$((i+1)); [ $i -lt 100 ] || fail "no listener"; sleep 0.05; done

NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000 start_daemon "$T/etc/shanhaid.conf"
sleep 0.5		# at least one WATCHDOG=1 (every 0.2 s)
kill -HUP "$DPID"
wait_log 'reload: done'
sleep 0.1
kill -TERM "$DPID"
rc=0; wait_exit "$DPID" 5 || rc=$?
[ "$rc" = 0 ] || fail "shanhaid exited $rc on SIGTERM"
wait_exit "$LPID" 5 || fail "listener did not see STOPPING=1"

cat "$T/notify.log"
# The order, watchdog pings aside: READY, RELOADING, READY, STOPPING.
grep -v '^WATCHDOG=1$' "$T/notify.log" | cut -d'|' -f1 | tr '\n' ' ' > "$T/states"
[ "$(cat "$T/states")" = "READY=1 RELOADING=1 READY=1 STOPPING=1 " ] ||
    fail "sd_notify sequence: $(cat "$T/states")"
grep -q '^WATCHDOG=1$' "$T/notify.log" || fail "no WATCHDOG=1"
grep -q '^READY=1|STATUS=serving on 127.0.0.1:'"$port"': 4 agreements, 10 clients$' \
    "$T/notify.log" || fail "READY without a readable STATUS"
grep -Eq '^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|STATUS=reloading ' "$T/notify.log" ||
    fail "RELOADING=1 without MONOTONIC_USEC"
grep -Eq '^READY=1\|STATUS=serving .*\(reloaded at [0-9:]{8}\)$' "$T/notify.log" ||
    fail "no READY=1 after the reload"
grep -q '^STOPPING=1|STATUS=stopping' "$T/notify.log" || fail "STOPPING=1 without STATUS"
echo "notify: ok"
