#!/bin/sh
# The tile mirror (SPEC 6.5, 6.7): shanhaid with ledger.tiles_dir publishes
# the ledger as C2SP tlog-tiles after each commit; an independent reader
# (tests/tiles_read.py, from the spec alone) checks every tile and bundle
# against the checkpoint, and the entries it reads are the ledger byte for
# byte and pass `shanhai verify` with the full replay; nginx, configured by
# doc/nginx-tiles.conf, serves the folder over HTTPS with the spec's
# content types and cache headers, and the same reader reads it back; a
# report or a rules file too long for an entry bundle is refused with a
# reason; the partial tiles of full tiles are deleted once the checkpoint
# no longer needs them; a state
# older than what the mirror published refuses to start, naming the sizes.
. "$TOP/tests/itlib.sh"
SH=$BUILD/shanhai
pki
port=$(free_port)
d=$T/etc
c=$d/shanhaid.conf
write_config "$c" "$port"
sed -i 's|^ledger = { \(.*\) };$|ledger = { \1 tiles_dir = "tiles"; };|' "$c"
grep -q 'tiles_dir = "tiles"' "$c" || fail "config: $(grep ledger "$c")"
# An agreement whose rules entry would not fit an entry bundle is refused
# by -t (and so at start and on reload), naming the file and the sizes.
mkdir -p "$T/big"
cp -r "$d/rules" "$T/big/rules"
python3 -c 'print("# " + "x" * 70000)' >> "$T/big/rules/kaihua-tongxiang.conf"
sed "s|^rules_dir = .*|rules_dir = \"$T/big/rules\";|" "$c" > "$d/big.conf"
rc=0; "$BUILD/shanhaid" -t -c "$d/big.conf" > "$T/big.out" 2>&1 || rc=$?
[ $rc = 1 ] || fail "a rules file too long for a bundle: -t exit $rc"
grep -q "kaihua-tongxiang.conf: its ledger entry would be 7[0-9]* bytes, more than the 65535" \
    "$T/big.out" || fail "too long a rules file: $(cat "$T/big.out")"
start_daemon "$c"
base=https://127.0.0.1:$port

# submit FROM TO: reports FROM..TO of the sample cases, each by its bureau.
# The sample reports, then ten more years of Kecheng-Yuhang's months: more
# than 256 entries, so that full tiles and bundles are made.
cat "$TOP"/tests/cases/example-*/reports.jsonl | grep . >"$T/reports.jsonl"
python3 - "$TOP/tests/cases/example-kecheng-yuhang-2026/reports.jsonl" >>"$T/reports.jsonl" <<'PYEOF'
import re, sys
months = [l for l in open(sys.argv[1]) if re.search(r'"report_id": "yh-2026-\d\d"', l)]
assert len(months) == 12, len(months)
for y in range(2027, 2037):
    for l in months:
        sys.stdout.write(l.replace('2026-', '%d-' % y))
PYEOF
submit() {
	sed -n "$1,$2p" "$T/reports.jsonl" | while IFS= read -r line; do
		printf '%s\n' "$line" >"$T/r.json"
		b=$(bureau_of "$T/r.json")
		code=$(as "$b" "$base/v1/reports" -H "Content-Type: application/json" \
		    --data-binary @"$T/r.json" | tail -1)
		[ "$code" = 201 ] || fail "report: $code: $line"
	done
}
fetch() {
	curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" \
	    --key "$T/pki/auditor.key" -o "$2" "$base$1" || fail "GET $1"
}
# wait_tiles: until tiles/checkpoint is the daemon's latest checkpoint.
wait_tiles() {
	fetch /v1/ledger/checkpoint "$T/cp"
	i=0
	until cmp -s "$T/cp" "$d/tiles/checkpoint"; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "tiles/checkpoint never caught up"
		sleep 0.05
	done
}

n=$(wc -l <"$T/reports.jsonl")
half=$((n / 2))
submit 1 "$half"
wait_tiles
# An old copy of the state, taken while stopped: the test of never a fork.
kill -TERM "$DPID"
wait_exit "$DPID" 10 || fail "shanhaid exit status $?"
cp -a "$d/state" "$T/state.old"
start_daemon "$c"
submit $((half + 1)) "$n"
wait_tiles
size=$(sed -n 2p "$d/tiles/checkpoint")
[ "$size" -gt 256 ] || fail "only $size entries: a full tile was wanted"

# The mirror read from the folder: every tile checked, the same entries.
python3 "$TOP/tests/tiles_read.py" "$d/tiles" >"$T/tiles.jsonl" 2>"$T/read.err" ||
	fail "tiles_read: $(cat "$T/read.err")"
fetch "/v1/ledger/entries?start=0&end=$size" "$T/api.jsonl"
cmp -s "$T/tiles.jsonl" "$T/api.jsonl" || fail "entries from the tiles differ from the API's"
"$SH" verify --vkey "$d/ledger.key.vkey" --checkpoint "$d/tiles/checkpoint" \
	--entries "$T/tiles.jsonl" >"$T/verify.out" || fail "verify: $(cat "$T/verify.out")"
grep -q "root matches; replay" "$T/verify.out" || fail "$(cat "$T/verify.out")"
[ -f "$d/tiles/tile/0/000" ] && [ -f "$d/tiles/tile/entries/000" ] ||
	fail "no full level-0 tile"
! find "$d/tiles" -name '*.tmp.*' | grep -q . || fail "temporary files left"
# Partial tiles: those of tiles full at the published size are deleted
# once that checkpoint is out; every one left is of a rightmost tile, and
# those the checkpoint needs are there (tiles_read.py read them above).
stale_partials() {	# SIZE: the partials of tiles full at SIZE
	(cd "$d/tiles" && find tile -path '*.p/*' -type f) | python3 -c '
import re, sys
size = int(sys.argv[1])
for p in sys.stdin.read().split():
    m = re.fullmatch(r"tile/(\d+|entries)/((?:x\d{3}/)*\d{3})\.p/(\d+)", p)
    assert m, p
    level = 0 if m.group(1) == "entries" else int(m.group(1))
    n = int(m.group(2).replace("x", "").replace("/", ""))
    if (n + 1) * 256 ** (level + 1) <= size:
        print(p)' "$1"
}
i=0
while [ -n "$(stale_partials "$size")" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "partials of full tiles left: $(stale_partials "$size" | head -3)"
	sleep 0.05
done
[ ! -e "$d/tiles/tile/0/000.p" ] && [ ! -e "$d/tiles/tile/entries/000.p" ] ||
	fail "tile 0's partials are still there"
last=$((size / 256))
w=$((size % 256))
[ $w = 0 ] || [ -f "$d/tiles/tile/0/$(printf %03d $last).p/$w" ] || fail "the partial tile of size $size is gone"

# Too long for an entry bundle: refused, saying why.
python3 -c 'import json; print(json.dumps({"report_id": "big-1", "agreement": "kecheng-yuhang", "period": "2027-01", "role": "host", "note": "x" * 65400}))' >"$T/big.json"
out=$(as yuhang "$base/v1/reports" -H "Content-Type: application/json" --data-binary @"$T/big.json")
[ "$(printf '%s\n' "$out" | tail -1)" = 413 ] || fail "a 65 kB report: $out"
printf '%s' "$out" | grep -q "tlog-tiles entry bundle" || fail "413 without the reason: $out"

# nginx over HTTPS with doc/nginx-tiles.conf: same bytes, the right headers.
command -v nginx >/dev/null || PATH=$PATH:/usr/sbin
nport=$(free_port)
mkdir -p "$T/nginx/logs"
# nginx's workers run as another user when started by root: let them in.
chmod o+x "$T" "$d"
{
	echo "worker_processes 1; error_log $T/nginx/logs/error.log; pid $T/nginx/nginx.pid;"
	echo "events { worker_connections 64; }"
	echo "http { access_log off; client_body_temp_path $T/nginx; proxy_temp_path $T/nginx;"
	echo " fastcgi_temp_path $T/nginx; uwsgi_temp_path $T/nginx; scgi_temp_path $T/nginx;"
	sed -e "s|@LISTEN@|127.0.0.1:$nport|" -e "s|@TILES@|$d/tiles|" \
	    -e "s|@CERT@|$T/pki/server.crt|" -e "s|@KEY@|$T/pki/server.key|" \
	    "$TOP/doc/nginx-tiles.conf"
	echo "}"
} >"$T/nginx/nginx.conf"
nginx -t -p "$T/nginx" -c "$T/nginx/nginx.conf" >"$T/nginx/t.out" 2>&1 ||
	fail "nginx -t: $(cat "$T/nginx/t.out")"
nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;' 2>>"$T/nginx/logs/error.log" &
PIDS="$PIDS $!"
u=https://127.0.0.1:$nport
i=0
until curl -s -o /dev/null --cacert "$T/pki/ca.crt" "$u/checkpoint"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "nginx did not serve: $(cat "$T/nginx/logs/error.log")"
	sleep 0.05
done
python3 "$TOP/tests/tiles_read.py" --cacert "$T/pki/ca.crt" "$u/" >"$T/nginx.jsonl" 2>"$T/read.err" ||
	fail "tiles_read over HTTPS: $(cat "$T/read.err")"
cmp -s "$T/nginx.jsonl" "$T/api.jsonl" || fail "entries over nginx differ"
hdr() { curl -s -D - -o /dev/null --cacert "$T/pki/ca.crt" "$@" | tr -d '\r'; }
hdr "$u/checkpoint" >"$T/h"
grep -qi '^content-type: text/plain; charset=utf-8$' "$T/h" || fail "checkpoint: $(cat "$T/h")"
grep -qi '^cache-control: no-cache' "$T/h" || fail "checkpoint caching: $(cat "$T/h")"
hdr "$u/tile/0/000" >"$T/h"
grep -qi '^content-type: application/octet-stream$' "$T/h" || fail "tile: $(cat "$T/h")"
grep -qi '^cache-control: public, max-age=31536000, immutable$' "$T/h" || fail "tile caching: $(cat "$T/h")"
hdr -H 'Accept-Encoding: gzip' "$u/tile/entries/000" >"$T/h"
grep -qi '^content-encoding: gzip$' "$T/h" || fail "bundle not compressed: $(cat "$T/h")"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/pki/ca.crt" "$u/tile/")
[ "$code" = 403 ] || [ "$code" = 404 ] || fail "a folder listing: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/pki/ca.crt" -X POST "$u/checkpoint")
[ "$code" = 403 ] || [ "$code" = 405 ] || fail "POST: $code"

# A lying mirror is caught by the reader, naming the tile.
cp -a "$d/tiles" "$T/bad"
flip_byte "$T/bad/tile/0/000" 40
! python3 "$TOP/tests/tiles_read.py" "$T/bad" >/dev/null 2>"$T/read.err" || fail "a changed tile was read"
grep -q "tile/entries/000: entry 1 does not hash" "$T/read.err" || fail "$(cat "$T/read.err")"

# Restore from the folder and from nginx: the same ledger, and on from it.
"$SH" restore --from "$d/tiles" --vkey "$d/ledger.key.vkey" --state "$T/restored" >"$T/restore.out" 2>&1 ||
	fail "restore: $(cat "$T/restore.out")"
grep -q "restored .*: $size entries of test.example/shanhai, every bundle and tile checked" "$T/restore.out" ||
	fail "$(cat "$T/restore.out")"
"$SH" restore --from "$u/" --cacert "$T/pki/ca.crt" --vkey "$d/ledger.key.vkey" \
	--state "$T/restored2" >"$T/restore2.out" 2>&1 || fail "restore over HTTPS: $(cat "$T/restore2.out")"
sqlite3 "$T/restored/shanhai.db" .dump >"$T/restored.dump"
sqlite3 "$T/restored2/shanhai.db" .dump | cmp -s - "$T/restored.dump" || fail "the two restores differ"
grep -q "INSERT INTO report" "$T/restored.dump" || fail "no report index restored"
set +e
"$SH" restore --from "$d/tiles" --vkey "$d/ledger.key.vkey" --state "$T/restored" >"$T/again.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "exists: restore builds a new state only" "$T/again.out" || fail "restored over a state"
port3=$(free_port)
sed -e "s|127.0.0.1:$port|127.0.0.1:$port3|" -e "s|^state_dir = .*|state_dir = \"$T/restored\";|" \
    -e 's| tiles_dir = "tiles";||' "$c" >"$d/restored.conf"
MAINPID=$DPID
start_daemon "$d/restored.conf"
base3=https://127.0.0.1:$port3
curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" --key "$T/pki/auditor.key" \
	-o "$T/r.jsonl" "$base3/v1/ledger/entries?start=0&end=$size" || fail "GET entries from the restored"
cmp -s "$T/r.jsonl" "$T/api.jsonl" || fail "the restored daemon serves other entries"
curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" --key "$T/pki/auditor.key" \
	-o "$T/rcp" "$base3/v1/ledger/checkpoint" || fail "GET checkpoint from the restored"
cmp -s "$T/rcp" "$d/tiles/checkpoint" || fail "the restored checkpoint: $(cat "$T/rcp")"
# A report already in the ledger: 200 with a receipt that verifies.
sed -n 1p "$T/reports.jsonl" >"$T/old.json"
out=$(as "$(bureau_of "$T/old.json")" "$base3/v1/reports" -H "Content-Type: application/json" --data-binary @"$T/old.json")
[ "$(printf '%s\n' "$out" | tail -1)" = 200 ] || fail "resubmission to the restored: $out"
printf '%s\n' "$out" | sed '$d' >"$T/receipt.json"
"$SH" verify --vkey "$d/ledger.key.vkey" --receipt "$T/receipt.json" >"$T/rv.out" 2>&1 ||
	fail "receipt from the restored: $(cat "$T/rv.out")"
# A new one: it goes on from the restored size.
python3 -c 'import json; print(json.dumps({"report_id": "yh-2036-12b", "supersedes": "yh-2036-12", "agreement": "kecheng-yuhang", "period": "2036-12", "role": "host", "taxes": {"vat": "1.00", "cit": "1.00", "pit": "1.00"}, "statistics": {"industrial_output": "1.00", "gdp": "1.00"}}))' >"$T/new.json"
out=$(as yuhang "$base3/v1/reports" -H "Content-Type: application/json" --data-binary @"$T/new.json")
[ "$(printf '%s\n' "$out" | tail -1)" = 201 ] || fail "new report to the restored: $out"
printf '%s\n' "$out" | grep -q "\"index\":$size" || fail "the new report is not entry $size: $out"
kill -TERM "$DPID"
wait_exit "$DPID" 10 || fail "restored shanhaid exit status $?"
DPID=$MAINPID
# A lying mirror is refused, naming the first bad file, and leaves nothing.
set +e
"$SH" restore --from "$T/bad" --vkey "$d/ledger.key.vkey" --state "$T/nope" >"$T/bad.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "refused: tile/entries/000: entry 1 does not hash to its leaf in tile/0/000" "$T/bad.out" ||
	fail "a lying mirror: $rc $(cat "$T/bad.out")"
[ ! -e "$T/nope/shanhai.db" ] || fail "a refused restore left a database"
cp -a "$d/tiles" "$T/bad1"
flip_byte "$T/bad1/tile/1/000.p/1" 3
set +e
"$SH" restore --from "$T/bad1" --vkey "$d/ledger.key.vkey" --state "$T/nope" >"$T/bad.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "refused: tile/1/000.p/1: hash 0 is not the root of the tile below it" "$T/bad.out" ||
	fail "a bad level-1 tile: $rc $(cat "$T/bad.out")"
# Signed by another key: refused before anything is read.
"$SH" keygen --origin test.example/shanhai --out "$T/other.key" >/dev/null
set +e
"$SH" restore --from "$d/tiles" --vkey "$T/other.key.vkey" --state "$T/nope" >"$T/bad.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "no signature by a known key" "$T/bad.out" || fail "another key: $(cat "$T/bad.out")"
cat "$T/restore.out"

# Never a fork: the old state refuses to start, naming both sizes.
kill -TERM "$DPID"
wait_exit "$DPID" 10 || fail "shanhaid exit status $?"
old=$(sqlite3 "$T/state.old/shanhai.db" 'SELECT count(*) FROM entry' 2>/dev/null || echo '?')
mv "$d/state" "$T/state.new"
cp -a "$T/state.old" "$d/state"
start_refused "$c" "$T/fork.log"
grep -q "published size $size but the database in .* holds only $old entries" "$T/fork.log" ||
	fail "refusal does not name the sizes: $(cat "$T/fork.log")"
grep -q "Recover a state holding at least those $size entries" "$T/fork.log" ||
	fail "refusal does not say how to recover"
# The new state starts again and the mirror stays as it was.
rm -rf "$d/state"
mv "$T/state.new" "$d/state"
start_daemon "$c"
wait_tiles
echo "tiles: ok ($size entries)"
