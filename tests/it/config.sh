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
check 1 "^$c:[0-9]+: duplicate key 'rules_dir'"
cp "$c.good" "$c"; sed -i 's/signing_key = "ledger.key";/& origin = "b";/' "$c"
check 1 "^$c:6: duplicate key 'origin'"

# Integers are read as 64 bits: past 32 bits nothing wraps (4294968320 was
# 1024, 4294967296 was 0, i.e. no limit), and the value is the one written.
for v in 'max_body = 4294968320:1024\.\.16777216' \
    'client_rate = 4294967296:0\.\.1000000' \
    'client_rate = 99999999999:0\.\.1000000' \
    'max_header = -4294959104:1024\.\.65536'; do
	cp "$c.good" "$c"; echo "limits = { ${v%%:*}; };" >> "$c"
	key=${v%% =*} val=${v#* = }; val=${val%%:*}
	last=$(wc -l < "$c")	# the line just appended
	check 1 "^$c:$last: 'limits.$key' = $val is out of range ${v#*:}$"
done

# The file itself: a folder, a file that is not there.
rc=0; out=$("$BUILD/shanhaid" -t -c "$T" 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$out" = "$T: is a directory, not a configuration file (-c names the file, e.g. /etc/shanhai/shanhaid.conf)" ] ||
    fail "-c DIR: exit $rc: $out"
rc=0; out=$("$BUILD/shanhaid" -t -c "$T/nothere.conf" 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$out" = "$T/nothere.conf: cannot open: No such file or directory" ] ||
    fail "-c missing: exit $rc: $out"

# A user that does not exist: -t refuses what start would.
cp "$c.good" "$c"; echo 'user = "no-such-user-here";' >> "$c"
check 1 "^$c:$(wc -l < "$c"): user: 'no-such-user-here': no such user$"

# -t checks what start would find: the state folder, and, as root with
# `user`, that user's access to it and to the ledger key it reads after
# switching.
cp "$c.good" "$c"; sed -i "s#^state_dir = .*#state_dir = \"$T/no/such/state\";#" "$c"
check 1 "^$c:2: state_dir $T/no/such/state: No such file or directory, and root cannot make it in $T/no/such$"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	cp "$c.good" "$c"; echo 'user = "nobody";' >> "$c"
	chmod 700 "$T/etc/state"
	check 1 "^$c:2: state_dir $T/etc/state: nobody cannot write in it \(owner uid 0, mode 0700\)$"
	chown nobody "$T/etc/state"
	check 1 "^$c:6: ledger.signing_key $T/etc/ledger.key: owned by uid 0, but the daemon reads it as nobody; run: chown nobody $T/etc/ledger.key$"
	chown nobody "$T/etc/ledger.key"
	check 0 '^configuration OK$'
	chown root "$T/etc/state" "$T/etc/ledger.key"
else
	echo "SKIP: state_dir and key owner for 'user' (needs root and 'nobody')"
fi

# A rules folder that is not there names its key and says why.
cp "$c.good" "$c"; sed -i 's#^rules_dir = "rules"#rules_dir = "nope"#' "$c"
check 1 "^$c:3: rules_dir $T/etc/nope: No such file or directory$"

# TLS files: the config's file and line, the key, the file, the reason in
# words (strerror, OpenSSL's reason), never "system lib".
cp "$c.good" "$c"; sed -i 's#tls/server.key#tls/missing.key#' "$c"
check 1 "^$c:5: tls.key $T/etc/tls/missing.key: No such file or directory$"
cp "$c.good" "$c"; sed -i 's#tls/ca.crt#tls/nope.crt#' "$c"
check 1 "^$c:5: tls.client_ca $T/etc/tls/nope.crt: No such file or directory$"
cp "$c.good" "$c"; sed -i 's#tls/server.crt#tls#' "$c"
check 1 "^$c:5: tls.certificate $T/etc/tls: is a directory, not a file$"
cp "$c.good" "$c"; echo garbage > "$T/etc/tls/garbage.pem"
sed -i 's#tls/ca.crt#tls/garbage.pem#' "$c"
check 1 "^$c:5: tls.client_ca $T/etc/tls/garbage.pem: no PEM CA certificate in it: [a-z]"
cp "$c.good" "$c"; chmod 600 "$T/etc/tls/garbage.pem"
sed -i 's#tls/server.key#tls/garbage.pem#' "$c"
check 1 "^$c:5: tls.key $T/etc/tls/garbage.pem: not an unencrypted PEM private key: [a-z]"
# A certificate that is not the key's.
cp "$c.good" "$c"; cp "$T/pki/auditor.key" "$T/etc/tls/wrong.key"
sed -i 's#tls/server.key#tls/wrong.key#' "$c"
check 1 "^$c:5: tls.key $T/etc/tls/wrong.key: not the key of tls.certificate: key values mismatch"
# A key the daemon's user cannot read: "Permission denied", said as such.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	cp "$c.good" "$c"
	chmod 755 "$T" "$T/etc" "$T/etc/tls" "$T/etc/rules"
	chmod 644 "$c" "$T"/etc/tls/*.crt "$T"/etc/rules/*
	rc=0
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$BUILD/shanhaid" -t -c "$c" 2>&1) || rc=$?
	[ "$rc" = 1 ] || fail "unreadable key: exit $rc: $out"
	printf '%s\n' "$out" | grep -qx "$c:5: tls.key $T/etc/tls/server.key: Permission denied" ||
	    fail "unreadable key said: $out"
	chmod 700 "$T"
else
	echo "SKIP: unreadable key (needs root and 'nobody')"
fi

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
