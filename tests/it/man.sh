#!/bin/sh
# The manual pages: clean under `mandoc -Tlint` down to style messages (any
# output fails), cross-references resolved among themselves, every verb of
# `shanhai help` documented in shanhai.1, and the key list of
# shanhaid.conf.5 what man/conf-keys.sh makes of `shanhaid -k`.
set -eu
BUILD=${BUILD:-build}
T=${TMPDIR:-/tmp}
fail=0

# A manual tree of our own pages, so that .Xr between them resolves.
mkdir -p "$T/man/man1" "$T/man/man5" "$T/man/man7" "$T/man/man8"
for p in man/*.[1578]; do
	cp "$p" "$T/man/man${p##*.}/"
done
makewhatis "$T/man"
for p in man/*.[1578]; do
	# -Wstyle must follow -Tlint (which would reset it) and precede -M.
	if ! mandoc -Tlint -Wstyle -M "$T/man" "$p" > "$T/lint" 2>&1 ||
	    [ -s "$T/lint" ]; then
		echo "$p: mandoc -Tlint:"
		cat "$T/lint"
		fail=1
	fi
done
for p in shanhai.1 shanhai-rules.5 shanhai-api.7 shanhaid.8 shanhaid.conf.5; do
	[ -f "man/$p" ] || { echo "man/$p: missing"; fail=1; }
done

# The pages cite only what `make install` installs: the documents under
# /usr/share/doc/shanhai/ are among the Makefile's DOCS, and neither the
# pages nor those documents send readers to the specification (not shipped).
docs=$(sed -n 's/^DOCS *= *//p' Makefile)
for f in $(sed -n 's|^\.Pa /usr/share/doc/shanhai/\([^ ]*\).*$|\1|p' man/*.[1578] | sort -u); do
	case " $docs " in
	*" doc/$f "*) ;;
	*) echo "a page cites /usr/share/doc/shanhai/$f, which make install does not install"; fail=1 ;;
	esac
done
for f in $docs; do
	[ -f "$f" ] || { echo "Makefile DOCS: $f missing"; fail=1; }
done
if grep -n 'SPEC' man/*.[1578] $docs; then
	echo "the lines above cite SPEC, which is not installed: cite the manual pages"
	fail=1
fi

# Every verb the tool knows has its entry under "Verbs".
"$BUILD"/shanhai help | sed -n 's/^.*shanhai \([a-z][a-z-]*\).*$/\1/p' |
    sort -u > "$T/verbs"
[ -s "$T/verbs" ] || { echo "shanhai help lists no verbs"; fail=1; }
while read -r v; do
	grep -q "^\.It Cm $v\( \|$\)" man/shanhai.1 ||
		{ echo "man/shanhai.1: verb '$v' is not documented"; fail=1; }
done < "$T/verbs"

# The configuration keys: the page holds what the generator makes of the
# daemon's own key table.
sh man/conf-keys.sh "$BUILD"/shanhaid man/shanhaid.conf.5 > "$T/conf.5"
if ! cmp -s "$T/conf.5" man/shanhaid.conf.5; then
	echo "man/shanhaid.conf.5: its key list differs from 'shanhaid -k';" \
	    "make it anew with: sh man/conf-keys.sh $BUILD/shanhaid" \
	    "man/shanhaid.conf.5 > new && mv new man/shanhaid.conf.5"
	diff man/shanhaid.conf.5 "$T/conf.5" || true
	fail=1
fi
n=$("$BUILD"/shanhaid -k | wc -l)

[ $fail = 0 ] && echo "man: $(ls man/*.[1578] | wc -l) pages lint clean, every verb documented, $n keys agree"
exit $fail
