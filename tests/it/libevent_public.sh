#!/bin/sh
# The daemon uses libevent through its public API only: no *_struct.h
# header that lays bare libevent's own structures (their layout changes
# between releases without a word; keyvalq_struct.h, the evkeyvalq list
# that the public evhttp calls take, is the one exception), and no
# *_compat.h of deprecated calls.
set -eu
TOP=${TOP:-$(pwd)}
cd "$TOP"
bad=$(grep -nE '#[[:space:]]*include[[:space:]]*<event2/[a-z_]*(_struct|_compat)\.h>' \
    core/*.[ch] lib/*.[ch] daemon/*.[ch] tool/*.c include/shanhai/*.h | grep -v 'event2/keyvalq_struct\.h' || true)
if [ -n "$bad" ]; then
	echo "FAIL: libevent's private headers:"
	echo "$bad"
	exit 1
fi
echo "ok: public libevent headers only"
