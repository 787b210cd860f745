#!/bin/sh
# The daemon's layers depend one way (doc/DESIGN.md, TLS and HTTP):
# server.c uses the HTTPS front (http.h) and the generation; the front's
# files and the generation never include server.h, so the front cannot
# reach into the server and the server is the only one that swaps
# generations.
set -eu
TOP=${TOP:-$(pwd)}
cd "$TOP"
bad=$(grep -lE '#[[:space:]]*include[[:space:]]*"shanhai/server\.h"' \
    daemon/http*.c daemon/http*.h daemon/generation.c \
    include/shanhai/http.h include/shanhai/http_error.h \
    include/shanhai/generation.h || true)
if [ -n "$bad" ]; then
	echo "FAIL: these include server.h, against the layers:"
	echo "$bad"
	exit 1
fi
grep -q '#include "shanhai/http.h"' daemon/server.c ||
    { echo "FAIL: server.c no longer uses the front through http.h"; exit 1; }
echo "ok: server -> http -> generation, one way"
