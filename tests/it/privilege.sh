#!/bin/sh
# Privilege (issue 7): started as root without `user`, the daemon warns that
# it runs as root; with `user`, it binds, switches to that user (uid, gid,
# no supplementary groups, no capabilities), says so and serves; an unknown
# user is refused before it serves. Needs root; says SKIP otherwise.
. "$TOP/tests/itlib.sh"
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
	echo "SKIP: privilege test needs root and a user 'nobody'"
	exit 0
fi
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
cp "$c" "$c.root"

start_daemon "$c"
grep -q "running as root: set 'user' to drop privileges" "$T/daemon.log" ||
    fail "no warning about running as root"
kill "$DPID"; wait_exit "$DPID" 10 >/dev/null || fail "SIGTERM exit"

# An unknown user: refused, and said why.
echo 'user = "no-such-user-here";' >> "$c"
rc=0
timeout 20 "$BUILD/shanhaid" -c "$c" > "$T/start.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "unknown user: exit $rc: $(cat "$T/start.log")"
grep -q "user: 'no-such-user-here': no such user" "$T/start.log" ||
    fail "unknown user not named: $(cat "$T/start.log")"

# nobody: what the unit's DynamicUser gets, its state and ledger key its own.
cp "$c.root" "$c"
echo 'user = "nobody";' >> "$c"
chmod 755 "$T" "$T/etc" "$T/etc/tls" "$T/etc/rules"
chmod 644 "$T"/etc/tls/*.crt "$T"/etc/rules/*
chown nobody "$T/etc/ledger.key"* "$T/etc/tls/server.key"
chown -R nobody "$T/etc/state"
: > "$T/daemon.log"
start_daemon "$c"
grep -q 'running as user nobody' "$T/daemon.log" || fail "switch not logged"
st=/proc/$DPID/status
uid=$(id -u nobody); gid=$(id -g nobody)
awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st" | grep -qx "$uid $uid $uid $uid" ||
    fail "uids: $(grep ^Uid: "$st")"
awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st" | grep -qx "$gid $gid $gid $gid" ||
    fail "gids: $(grep ^Gid: "$st")"
groups=$(awk '/^Groups:/ { $1 = ""; print }' "$st" | tr -d ' ')
[ -z "$groups" ] || [ "$groups" = "$gid" ] || fail "groups kept: $groups"
grep -q '^CapEff:[[:space:]]*0000000000000000$' "$st" || fail "$(grep ^CapEff: "$st")"
# Every thread switched, not only the main one (setuid(2) is per thread
# in the kernel; glibc makes it process-wide).
for t in /proc/$DPID/task/*; do
	awk '/^Uid:/ { print $2 }' "$t/status" | grep -qx "$uid" || fail "thread $t kept uid"
done
printf '{"report_id":"p-1","agreement":"kecheng-yuhang","period":"2026-01","role":"host","taxes":{"vat":"100.00"}}' > "$T/r.json"
as yuhang "https://127.0.0.1:$port/v1/reports" -H 'Content-Type: application/json' \
    --data-binary @"$T/r.json" | tail -1 | grep -qx 201 || fail "no report committed as nobody"
as auditor "https://127.0.0.1:$port/v1/ledger/checkpoint" | tail -1 | grep -qx 200 ||
    fail "no checkpoint as nobody"
echo "privilege: warned as root, refused an unknown user, runs as nobody ($uid:$gid, no capabilities) and serves"

# The TLS key readable by nobody: no warning. Then root's alone (0600): the
# start says that reloads will fail; a reload is refused naming tls.key and
# the daemon serves on with what it has.
grep -q 'tls.key .*cannot read it' "$T/daemon.log" && fail "warned of a key nobody can read"
kill "$DPID"; wait_exit "$DPID" 10 >/dev/null || fail "SIGTERM exit"
chown root "$T/etc/tls/server.key"
chmod 600 "$T/etc/tls/server.key"
: > "$T/daemon.log"
start_daemon "$c"
grep -q "tls.key $T/etc/tls/server.key: user nobody cannot read it (Permission denied): every reload (SIGHUP) will be refused" "$T/daemon.log" ||
    fail "no warning that reloads will fail with a root-only key"
hup
grep -q 'reload refused: keeping' "$T/daemon.log" || fail "reload with an unreadable key not refused"
grep 'reload refused: ' "$T/daemon.log" | grep -q 'tls.key' || fail "refusal does not name tls.key"
as auditor "https://127.0.0.1:$port/v1/ledger/checkpoint" | tail -1 | grep -qx 200 ||
    fail "not serving after the refused reload"
echo "privilege: a root-only TLS key is announced at start and refuses reloads"
