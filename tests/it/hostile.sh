#!/bin/sh
# Hostile clients (issue 7): idle and half-open connections, slowloris
# headers, huge headers, bodies over the limit, deep nesting, invalid
# UTF-8, a flood from one client. tests/hostile.py says what must hold;
# then the same daemon under a file descriptor limit smaller than its
# connections: it keeps serving once they are gone.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port" 'limits = { request_timeout = 2; idle_timeout = 2; client_rate = 200; };'
start_daemon "$c"
# Under a sanitizer its shadow memory is in the RSS: a looser bound.
san=0
[ "${ASAN:-}" = 1 ] || [ "${TSAN:-}" = 1 ] && san=1
python3 "$TOP/tests/hostile.py" "$port" "$T/pki" "$DPID" "$san" 400 ||
    fail "hostile clients"
kill "$DPID"
wait_exit "$DPID" 10 || fail "SIGTERM exit after the hostile clients"

# Out of file descriptors: 80 connections against a limit of 48. accept()
# fails; the daemon must neither spin nor flood its log, and must serve
# again once the connections are gone.
: > "$T/daemon.log"
( ulimit -n 48; exec "$BUILD/shanhaid" -c "$c" >>"$T/daemon.log" 2>&1 ) &
DPID=$!
PIDS="$PIDS $DPID"
wait_log 'serving on'
python3 - "$port" "$DPID" <<'PY' || fail "out of file descriptors"
import socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
held = []
for i in range(80):
    held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
time.sleep(0.2)
c0 = cpu(); time.sleep(1.0); ticks = cpu() - c0
for s in held:
    s.close()
print("fd exhaustion: %d connections held, %d CPU ticks in 1 s" % (len(held), ticks))
sys.exit(ticks > 30)
PY
n=$(grep -c 'accept' "$T/daemon.log" || true)
[ "$n" -le 10 ] || fail "$n log lines about accept() in about a second"
grep -q 'accept: Too many open files; new connections wait' "$T/daemon.log" ||
    fail "fd exhaustion not logged"
i=0
until curl -s -o /dev/null --cacert "$T/pki/ca.crt" "https://127.0.0.1:$port/healthz"; do
	i=$((i + 1)); [ $i -lt 60 ] || fail "not serving after the connections closed"
	sleep 0.05
done
echo "fd exhaustion: $n log lines, serving again"
