#!/bin/sh
# Socket activation (systemd/shanhaid.socket): under systemd-socket-activate
# shanhaid serves on the socket it is handed (sd_listen_fds) and binds
# nothing of its own `listen`; a report goes through; SIGTERM still stops it
# cleanly. Also: the socket unit passes `systemd-analyze verify`.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
unused=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$unused"

out=$(cd "$TOP/systemd" && systemd-analyze verify --man=no shanhaid.socket 2>&1) ||
    fail "socket unit: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"

# It starts the daemon at the first connection, in its own process.
systemd-socket-activate -l "127.0.0.1:$port" "$BUILD/shanhaid" -c "$c" \
    >> "$T/daemon.log" 2>&1 &
DPID=$!
PIDS="$PIDS $DPID"
base=https://127.0.0.1:$port
# Connect only once it listens: a refused connection fails curl at once.
wait_log "Listening on 127.0.0.1:$port"
as none "$base/healthz" --max-time 20 | tail -1 | grep -qx 200 ||
    fail "no answer on the socket systemd bound"
wait_log "listen: serving on the 1 socket systemd passed; 'listen' is not used"
curl -s -o /dev/null --max-time 2 --cacert "$T/pki/ca.crt" \
    "https://127.0.0.1:$unused/healthz" && fail "it bound 'listen' too"
head -1 "$TOP/tests/cases/example-kecheng-yuhang-2026/reports.jsonl" > "$T/r.json"
as yuhang "$base/v1/reports" -H 'Content-Type: application/json' \
    --data-binary @"$T/r.json" | tail -1 | grep -qx 201 || fail "report refused"
kill -TERM "$DPID"
rc=0
wait_exit "$DPID" 10 || rc=$?
[ $rc = 0 ] || fail "exit $rc on SIGTERM"
echo "socket: ok"
