#!/bin/sh
# shanhaid.conf loading through `shanhaid -t`: good, unknown key, bad values,
# relative paths, and rule errors as file:line.
. "$TOP/tests/itlib.sh"
pki
c=$T/etc/shanhaid.conf
write_config "$c" 8443

check() {	# check EXPECTED-RC PATTERN: -t on $c from another folder
	rc=0
	out=$(cd / && "$BUILD/shanhaid" -t -c "$c" 2>&1) || rc=$?
	[ "$rc" = "$1" ] || fail "-t exit $rc, not $1: $out"
	printf '%s\n' "$out" | grep -Eq -- "$2" || fail "-t said '$out', not /$2/"
}

# Good; relative paths resolve against the config's folder, not the cwd.
check 0 '^configuration OK$'

# Unknown key, with its line.
cp "$c" "$c.good"
sed -i 's/^state_dir = /state_dri = /' "$c"
line=$(grep -n '^state_dri' "$c" | cut -d: -f1)
check 1 "^$c:$line: unknown key 'state_dri'"
cp "$c.good" "$c"
echo 'limits = { max_bodyy = 100; };' >> "$c"
check 1 "^$c:[0-9]+: unknown key 'limits.max_bodyy' \(did you mean 'limits.max_body'\?\)"

# Bad values: out of range, wrong type, bad enum, bad listen, fingerprint.
cp "$c.good" "$c"; echo 'limits = { max_body = 10; };' >> "$c"
check 1 "^$c:[0-9]+: 'limits.max_body' = 10 is out of range 1024\.\.16777216"
cp "$c.good" "$c"; echo 'limits = { idle_timeout = "60"; };' >> "$c"
check 1 "'limits.idle_timeout' must be an integer"
cp "$c.good" "$c"; sed -i 's/^log_level = .*/log_level = "loud";/' "$c"
check 1 "log_level' = 'loud': not one of err, warning, notice, info, debug"
cp "$c.good" "$c"; sed -i 's/^listen = .*/listen = [ "::1:8443" ];/' "$c"
check 1 "^$c:1: listen: '::1:8443' is not"
cp "$c.good" "$c"; sed -i '0,/fingerprint = "/s//fingerprint = "zz/' "$c"
check 1 "clients.fingerprint: 'zz[0-9a-f]*' is not a SHA-256 fingerprint"
cp "$c.good" "$c"; sed -i 's/codes = \[ "330802" \]; //' "$c"
check 1 "client 'kecheng-finance': a bureau needs 'codes'"
cp "$c.good" "$c"; sed -i '/^ledger/d' "$c"
check 1 "^$c: missing key 'ledger'"
cp "$c.good" "$c"; sed -i 's/origin = "test.example\/shanhai"; //' "$c"
check 1 "^$c:[0-9]+: missing key 'ledger.origin'"
# Syntax errors and duplicates come from libconfig, with their line.
cp "$c.good" "$c"; echo 'limits = { max_body = ; };' >> "$c"
check 1 "^$c:[0-9]+: syntax error"
cp "$c.good" "$c"; echo 'rules_dir = "x";' >> "$c"
check 1 "^$c:[0-9]+: duplicate setting name"

# A path that does not resolve: the TLS file names itself.
cp "$c.good" "$c"; sed -i 's#tls/server.key#tls/missing.key#' "$c"
check 1 "tls.key $T/etc/tls/missing.key"
# A certificate that is not the key's.
cp "$c.good" "$c"; cp "$T/pki/auditor.key" "$T/etc/tls/wrong.key"
sed -i 's#tls/server.key#tls/wrong.key#' "$c"
check 1 "tls.key $T/etc/tls/wrong.key"

# Rule files are checked with the daemon's loader: file:line: message.
cp "$c.good" "$c"
sed -i 's/^cadence = "monthly";/cadence = "weekly";/' "$T/etc/rules/kecheng-yuhang.conf"
check 1 "rules/kecheng-yuhang.conf:[0-9]+: "

# The key table lists every key, and doc/DESIGN.md documents each.
"$BUILD/shanhaid" -k > "$T/keys"
[ "$(wc -l < "$T/keys")" -gt 20 ] || fail "shanhaid -k lists too few keys"
cut -f1 "$T/keys" | while read -r k; do
	grep -q "^| \`$k\`" "$TOP/doc/DESIGN.md" || fail "doc/DESIGN.md does not document '$k'"
done
echo "config: ok"
