#!/bin/sh
# Only `make demo|check|bench|fuzz` may install Debian packages: `make`,
# `make install` (a packaging chroot) and `make clean` never run apt-get,
# and without root they do not fail because a test tool is missing. The
# package tools are stood in for on PATH: dpkg-query finds nothing
# installed, apt-get notes what it was asked and `id` can say non-root.
set -eu
T=${TMPDIR:-/tmp}
TOP=${TOP:-$(pwd)}
fail=0
bin=$T/fakebin
mkdir -p "$bin"
cat > "$bin/dpkg-query" <<'X'
#!/bin/sh
exit 1
X
cat > "$bin/apt-get" <<X
#!/bin/sh
echo "apt-get \$*" >> "$T/apt.log"
X
chmod +x "$bin/dpkg-query" "$bin/apt-get"

try() {		# want-apt(yes|no) want-rc(0|fail) goal… ; uid in $AS
	want=$1 rc=$2; shift 2
	: > "$T/apt.log"
	if PATH="$bin:$PATH" MAKEFLAGS= MAKELEVEL= make -n -C "$TOP" \
	    DESTDIR="$T/dest" "$@" > "$T/make.log" 2>&1; then got=0; else got=fail; fi
	if [ -s "$T/apt.log" ]; then apt=yes; else apt=no; fi
	if [ "$apt" != "$want" ] || [ "$got" != "$rc" ]; then
		echo "FAIL: make $* as uid $(id -u): apt-get ran: $apt (want $want), exit $got (want $rc)"
		sed 's/^/    /' "$T/make.log" | tail -5
		fail=1
	fi
}

if [ "$(id -u)" = 0 ]; then
	try no 0 all
	try no 0
	try no 0 install
	try no 0 clean
	for g in check demo bench fuzz; do
		try yes 0 "$g"
	done
	grep -q '^apt-get install' "$T/apt.log" ||
		{ echo "FAIL: make fuzz did not install"; fail=1; }
fi

# Not root: the same goals build; the test goals say what to install.
cat > "$bin/id" <<'X'
#!/bin/sh
[ "${1:-}" = -u ] && { echo 1000; exit 0; }
exec /usr/bin/id "$@"
X
chmod +x "$bin/id"
try no 0 all
try no 0 install
try no fail check
grep -q 'sudo apt-get install' "$T/make.log" ||
	{ echo "FAIL: make check as non-root does not say what to install"; fail=1; }

[ $fail = 0 ] && echo "ok: only demo, check, bench and fuzz install packages"
exit $fail
