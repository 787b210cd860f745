#!/bin/sh
# conf-keys.sh SHANHAID PAGE: prints PAGE (shanhaid.conf.5) with the list
# between its "BEGIN KEYS" and "END KEYS" comments made anew from the
# daemon's key table, as `SHANHAID -k` prints it: one key a line, tab
# separated: name, type, default, reload|restart, what it is for.
#
#   sh man/conf-keys.sh build/shanhaid man/shanhaid.conf.5 > new &&
#       mv new man/shanhaid.conf.5
set -eu
[ $# = 2 ] || { echo "usage: conf-keys.sh SHANHAID PAGE" >&2; exit 2; }
"$1" -k > "${TMPDIR:-/tmp}/keys.$$" || {
	echo "conf-keys.sh: $1 -k failed" >&2; exit 2; }
awk -F '\t' '
function esc(s) {		# text for an mdoc text line
	gsub(/\\/, "\\e", s)
	if (s ~ /^[.\047]/)
		s = "\\&" s
	return s
}
function sentence(s) {
	s = toupper(substr(s, 1, 1)) substr(s, 2)
	return s ~ /[.!?]$/ ? s : s "."
}
function syntax(t) {
	if (t == "strings")	return "No = [ Ar string , ... ] ;"
	if (t == "group")	return "No = { ... } ;"
	if (t == "list")	return "No = ( { ... } , ... ) ;"
	if (t ~ /^integer/)	return "No = Ar integer ;"
	return "No = Ar " t " ;"
}
FNR == NR {
	if (NF != 5) {
		printf "conf-keys.sh: line %d of -k has %d fields\n", FNR, NF \
		    > "/dev/stderr"
		bad = 1
		exit 2
	}
	key[++n] = $0
	next
}
/^\.\\" BEGIN KEYS/ {
	print
	print ".Bl -tag -width Ds"
	for (i = 1; i <= n; i++) {
		split(key[i], f, "\t")
		print ".It Cm " f[1] " " syntax(f[2])
		print esc(sentence(f[5]))
		if (f[2] ~ /^integer [0-9]+\.\.[0-9]+$/) {
			split(substr(f[2], 9), b, /\.\./)
			print "From " b[1] " to " b[2] "."
		}
		if (f[3] == "(required)")
			print "Required."
		else if (f[3] != "(unset)")
			print "Default:\n.Ql " f[3] " ."
		if (f[4] == "restart")
			print "A change takes effect only at a restart."
		else if (f[2] != "group" && f[2] != "list")
			print "A reload applies a change."
	}
	print ".El"
	skip = 1
	next
}
/^\.\\" END KEYS/ { skip = 0 }
!skip { print }
END { if (bad) exit 2 }
' "${TMPDIR:-/tmp}/keys.$$" "$2"
rc=$?
rm -f "${TMPDIR:-/tmp}/keys.$$"
exit $rc
