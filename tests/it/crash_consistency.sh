#!/bin/sh
# Crash consistency: concurrent bureaus, shanhaid killed with SIGKILL at
# random moments and restarted, then every receipt, checkpoint and
# settlement checked (tests/crash.py says what). The fast variant runs in
# make check; CRASH_KILLS, CRASH_REPORTS (per worker) and CRASH_SEED make
# it longer or repeat a run (the seed is printed).
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
seed=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
python3 "$TOP/tests/crash.py" "$c" "$BUILD" "$T" "${CRASH_KILLS:-4}" \
    "${CRASH_REPORTS:-24}" "$seed" || fail "crash consistency (seed $seed)"
