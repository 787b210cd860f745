#!/bin/sh
# SIGHUP: a bad config or a bad rule file is refused and the old state keeps
# serving; a good change takes effect; restart-only keys say so.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
cp "$c" "$c.good"
start_daemon "$c"
url=https://127.0.0.1:$port/v1/agreements

as stranger "$url" | tail -1 | grep -qx 403 || fail "stranger not refused at first"
as auditor "$url" | tail -1 | grep -qx 200 || fail "auditor refused at first"

# 1. An unknown key: refused, the old configuration stays.
sed -i 's/^state_dir = /state_dri = /' "$c"
hup
grep -Eq "reload refused: keeping the configuration loaded at [0-9]{2}:[0-9]{2}:[0-9]{2}" "$T/daemon.log" ||
    fail "no 'reload refused: keeping …' line"
grep -q "reload refused: $c:[0-9]*: unknown key 'state_dri'" "$T/daemon.log" ||
    fail "refusal does not say why"
as auditor "$url" | tail -1 | grep -qx 200 || fail "old state not kept after a bad config"

# 2. A bad rule file: refused with its file:line, agreements unchanged.
cp "$c.good" "$c"
cp "$T/etc/rules/kecheng-yuhang.conf" "$T/kecheng-yuhang.conf.good"
sed -i 's/^home    = "330802";/home    = "330110";/' "$T/etc/rules/kecheng-yuhang.conf"
hup
grep -q "reload refused: .*rules/kecheng-yuhang.conf:[0-9]*: " "$T/daemon.log" ||
    fail "rule error not reported with file:line"
as auditor "$url" | grep -q '"home":"330802"' || fail "old agreements not kept"
cp "$T/kecheng-yuhang.conf.good" "$T/etc/rules/kecheng-yuhang.conf"

# 3. A TLS key that does not load: refused.
sed -i 's#tls/server.key#tls/nothere.key#' "$c"
hup
grep -q "reload refused: .*tls.key $T/etc/tls/nothere.key" "$T/daemon.log" ||
    fail "TLS failure not reported"
as auditor "$url" | tail -1 | grep -qx 200 || fail "old TLS not kept"

# 4. A good change: a new client is let in, the others still are.
cp "$c.good" "$c"
sed -i "s/^clients = (/clients = (\n  { name = \"newcomer\"; role = \"auditor\"; fingerprint = \"$(fpr stranger)\"; },/" "$c"
hup
grep -q 'reload: done' "$T/daemon.log" || fail "good reload not taken"
as stranger "$url" | tail -1 | grep -qx 200 || fail "new client not let in after reload"
as auditor "$url" | tail -1 | grep -qx 200 || fail "auditor lost after reload"

# 5. Restart-only keys: kept, and the log says so.
sed -i "s/^listen = .*/listen = [ \"127.0.0.1:$(free_port)\" ];/" "$c"
hup
grep -q "reload: 'listen' changed: it takes effect only after a restart" "$T/daemon.log" ||
    fail "restart-only key not reported"
as auditor "$url" | tail -1 | grep -qx 200 || fail "not serving on the old address"

kill -TERM "$DPID"
rc=0; wait_exit "$DPID" 5 || rc=$?
[ "$rc" = 0 ] || fail "exit $rc"
echo "reload: ok"
