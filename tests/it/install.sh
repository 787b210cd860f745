#!/bin/sh
# make install DESTDIR=…: the layout of shanhaid(8) FILES, with PREFIX=/usr
# and with the default /usr/local, and SYSTEMDUNITDIR on its own.
set -eu
BUILD=${BUILD:-build}
T=${TMPDIR:-/tmp}
TOP=${TOP:-$(pwd)}
fail=0

inst() {	# DESTDIR, then make variables
	d=$1; shift
	make -s -C "$TOP" install BUILD="$BUILD" ASAN="${ASAN:-}" \
	    DESTDIR="$d" "$@" > "$T/install.log" 2>&1 ||
		{ cat "$T/install.log"; echo "make install failed"; exit 1; }
}

has() {		# mode path
	if [ ! -f "$2" ]; then
		echo "missing: $2"; fail=1
	elif [ "$(stat -c %a "$2")" != "$1" ]; then
		echo "mode $(stat -c %a "$2"), not $1: $2"; fail=1
	fi
}

layout() {	# root prefix unitdir
	r=$1 p=$2 u=$3
	has 755 "$r$p/sbin/shanhaid"
	has 755 "$r$p/bin/shanhai"
	has 644 "$r$p/share/man/man1/shanhai.1"
	has 644 "$r$p/share/man/man5/shanhai-rules.5"
	has 644 "$r$p/share/man/man5/shanhaid.conf.5"
	has 644 "$r$p/share/man/man8/shanhaid.8"
	has 644 "$r$p/share/man/man8/shanhai-witness.8"
	has 644 "$r$p/share/man/man7/shanhai-api.7"
	has 644 "$r$p/share/doc/shanhai/AUDIT.md"
	has 644 "$r$p/share/doc/shanhai/DESIGN.md"
	# No installed page or document points at a file that is not
	# installed: the pages name the documents where this install put them,
	# and nothing cites the specification, which is not shipped.
	for m in "$r$p"/share/man/man*/*; do
		for f in $(sed -n 's/^\.Pa \(\/[^ ]*share\/doc\/[^ ]*\)\( .*\)\{0,1\}$/\1/p' "$m"); do
			[ -f "$r$f" ] || { echo "$m cites $f, not installed"; fail=1; }
		done
		if grep -n '/usr/share/doc/shanhai' "$m" | grep -v "$p/share/doc/shanhai" >/dev/null; then
			echo "$m names /usr/share/doc/shanhai, not $p/share/doc/shanhai"; fail=1
		fi
	done
	if grep -n 'SPEC' "$r$p"/share/man/man*/* "$r$p"/share/doc/shanhai/*; then
		echo "an installed document cites SPEC, which is not installed"; fail=1
	fi
	has 644 "$r$p/share/shanhai/shanhaid.conf.example"
	has 644 "$r$p/lib/sysusers.d/shanhai.conf"
	for f in rules/*.conf; do
		has 644 "$r$p/share/shanhai/$f"
	done
	for f in systemd/*.service systemd/*.socket; do
		[ -f "$f" ] || continue
		has 644 "$r$u/${f##*/}"
		# The unit starts the daemon where this install put it.
		if grep -q '^ExecStart=' "$f" &&
		    ! grep -q "^ExecStart=.*\($p/sbin/shanhaid\|$p/bin/shanhai witness\)" "$r$u/${f##*/}"; then
			echo "$r$u/${f##*/}: ExecStart does not name $p/sbin/shanhaid or $p/bin/shanhai"
			fail=1
		fi
	done
	"$r$p/bin/shanhai" version > /dev/null
	"$r$p/sbin/shanhaid" -V > /dev/null
	# Nothing lands outside the prefix.
	(cd "$r" && find . -type f) | grep -v "^\.$p/" > "$T/stray" || true
	if [ -s "$T/stray" ]; then
		echo "installed outside $p:"; cat "$T/stray"; fail=1
	fi
}

inst "$T/usr" PREFIX=/usr
layout "$T/usr" /usr /usr/lib/systemd/system
inst "$T/local"
layout "$T/local" /usr/local /usr/local/lib/systemd/system
inst "$T/unitdir" PREFIX=/opt/shanhai SYSTEMDUNITDIR=/opt/shanhai/units
layout "$T/unitdir" /opt/shanhai /opt/shanhai/units

# The installed pages render, and man(1) finds them by name.
mandoc -Tascii "$T/usr/usr/share/man/man8/shanhaid.8" | grep -q SIGHUP || {
	echo "shanhaid.8 does not render"; fail=1; }

# The example configuration is one the daemon takes, once the files it
# names exist: the installed daemon checks it with -t.
e=$T/etc
mkdir -p "$e/tls"
sh "$TOP/tests/pki.sh" "$T/pki" > /dev/null
cp "$T/usr/usr/share/shanhai/shanhaid.conf.example" "$e/shanhaid.conf"
cp "$T/pki/server.crt" "$T/pki/server.key" "$e/tls/"
cp "$T/pki/ca.crt" "$e/tls/clients-ca.crt"
cp -r "$T/usr/usr/share/shanhai/rules" "$e/rules"
"$T/usr/usr/bin/shanhai" keygen --origin ledger.example.gov.cn/shanhai/v1 \
    --out "$e/ledger.key" > /dev/null
if ! "$T/usr/usr/sbin/shanhaid" -t -c "$e/shanhaid.conf" > "$T/t.out" 2>&1 ||
    ! grep -qx 'configuration OK' "$T/t.out"; then
	echo "the example configuration does not check:"; cat "$T/t.out"; fail=1
fi

[ $fail = 0 ] && (cd "$T/usr" && find . -type f | sort)
exit $fail
