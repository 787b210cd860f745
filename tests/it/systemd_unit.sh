#!/bin/sh
# systemd/shanhaid.service: `systemd-analyze verify` says nothing and
# `systemd-analyze security` rates it 2.5 or better. The unit is checked as
# `make install` writes it, pointed at the freshly built binary.
. "$TOP/tests/itlib.sh"
unit=$T/shanhaid.service
sed "s#/usr/sbin/shanhaid#$BUILD/shanhaid#g" "$TOP/systemd/shanhaid.service" > "$unit"
grep -q "ExecStart=$BUILD/shanhaid -c" "$unit" || fail "ExecStart not where expected"

out=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"

out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) ||
    fail "security failed: $out"
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no score in: $out"
echo "exposure $score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' || fail "exposure $score is above 2.5"

# The directives issue 2 asks for are there, each with a comment above it
# or its group.
for d in Type=notify 'ExecReload=.*shanhaid -t' 'ExecReload=.*kill -HUP \$MAINPID' \
    WatchdogSec= Restart=on-failure StateDirectory= ConfigurationDirectory= \
    DynamicUser=yes ProtectSystem=strict 'CapabilityBoundingSet=$' \
    NoNewPrivileges=yes SystemCallFilter=@system-service RestrictAddressFamilies=; do
	grep -q "^$d" "$unit" || fail "unit lacks $d"
done

# systemd/shanhai-witness.service: the same bar, as installed.
unit=$T/shanhai-witness.service
sed "s#/usr/bin/shanhai #$BUILD/shanhai #g" "$TOP/systemd/shanhai-witness.service" > "$unit"
grep -q "ExecStart=$BUILD/shanhai witness -c" "$unit" || fail "witness: ExecStart not where expected"
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "witness: verify failed: $out"
[ -z "$out" ] || fail "witness: systemd-analyze verify printed: $out"
out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) ||
    fail "witness: security failed: $out"
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "witness: no score in: $out"
echo "witness exposure $score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' || fail "witness: exposure $score is above 2.5"
for d in Type=notify 'ExecStartPre=.*shanhai witness -t' DynamicUser=yes \
    StateDirectory=shanhai-witness LoadCredential=witness.key: \
    ProtectSystem=strict 'CapabilityBoundingSet=$' NoNewPrivileges=yes \
    SystemCallFilter=@system-service; do
	grep -q "^$d" "$unit" || fail "witness unit lacks $d"
done
echo "systemd_unit: ok"
