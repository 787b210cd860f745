#!/bin/sh
# Faults (issue 7): keys readable by others or missing, a corrupt or
# truncated database, an unwritable state folder, a full disk while
# serving, a locked database, and a rules folder or TLS key that vanishes
# before a reload. Each gives a clear log line, the right answer to clients
# (503 with Retry-After where writing is impossible), nothing half-written
# (the ledger verifies, a refused database file is left as it was), and a
# clean recovery once the cause is fixed. The tmpfs parts need root.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
d=$T/etc
st=$d/state
base=https://127.0.0.1:$port
mounted=
cleanup_all() {
	cleanup
	[ -z "$mounted" ] || umount "$st" 2>/dev/null || true
}
trap cleanup_all EXIT

# refuse WHAT PATTERN: shanhaid must not start, and must say PATTERN.
refuse() {
	rc=0
	timeout 20 "$BUILD/shanhaid" -c "$c" >"$T/start.log" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "$1: started or crashed (exit $rc): $(cat "$T/start.log")"
	grep -Fq -- "$2" "$T/start.log" || fail "$1: log does not say '$2': $(cat "$T/start.log")"
	echo "ok: $1: $(grep -F -- "$2" "$T/start.log" | head -1)"
}

# report K: POST host report K of kecheng-yuhang; prints the answer's
# headers, body and status.
report() {
	printf '{"report_id":"f-%d","agreement":"kecheng-yuhang","period":"%d-%02d","role":"host","taxes":{"vat":"%d.00"}}' \
	    "$1" $((2018 + $1 / 12)) $(($1 % 12 + 1)) $((1000 + $1)) > "$T/r$1.json"
	as yuhang "$base/v1/reports" -D - -H 'Content-Type: application/json' \
	    --data-binary @"$T/r$1.json"
}
code() { tail -1; }

# verify_ledger: checkpoint, entries and replay with `shanhai verify`.
verify_ledger() {
	as auditor "$base/v1/ledger/checkpoint" | sed '$d' | sed '$d' > "$T/cp"
	size=$(sed -n 2p "$T/cp")
	as auditor "$base/v1/ledger/entries?start=0&end=$size" | sed '$d' | sed '$d' > "$T/e.jsonl"
	"$BUILD/shanhai" verify --vkey "$d/ledger.key.vkey" --checkpoint "$T/cp" \
	    --entries "$T/e.jsonl" > "$T/verify.out" 2>&1 || fail "verify: $(cat "$T/verify.out")"
}

# --- Private keys readable by others: refuse, naming the chmod; run it.
chmod 644 "$d/tls/server.key"
refuse "TLS key mode 0644" "run: chmod o-rwx $d/tls/server.key"
chmod o-rwx "$d/tls/server.key"
chmod 644 "$d/ledger.key"
refuse "ledger key mode 0644" "run: chmod 600 $d/ledger.key"
chmod 600 "$d/ledger.key"

# --- Missing keys.
mv "$d/ledger.key" "$d/ledger.key.away"
refuse "ledger key missing" "$d/ledger.key: No such file or directory"
mv "$d/ledger.key.away" "$d/ledger.key"
mv "$d/tls/server.key" "$d/server.key.away"
refuse "TLS key missing" "$d/tls/server.key: No such file or directory"
mv "$d/server.key.away" "$d/tls/server.key"

# --- The state folder on a small tmpfs when root may mount one.
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=8m,mode=0700 tmpfs "$st" 2>/dev/null; then
	mounted=1
else
	echo "SKIP: full disk and read-only state folder (need root and tmpfs)"
fi

start_daemon "$c"
for k in 0 1 2; do
	report $k | code | grep -qx 201 || fail "report $k"
done
verify_ledger
kill "$DPID"; wait_exit "$DPID" 10 >/dev/null || fail "SIGTERM exit"
cp "$st/shanhai.db" "$T/good.db"

# --- A corrupt database file: refused at start, and left as it was.
printf 'not a database at all\n%01024d' 0 > "$st/shanhai.db"
cp "$st/shanhai.db" "$T/bad.db"
refuse "database not SQLite" "$st/shanhai.db: file is not a database"
cmp -s "$st/shanhai.db" "$T/bad.db" || fail "the refused database file changed"
# Truncated to its first pages: the replay at open finds the damage.
head -c 8192 "$T/good.db" > "$st/shanhai.db"
cp "$st/shanhai.db" "$T/bad.db"
refuse "database truncated" "$st/shanhai.db: "
cmp -s "$st/shanhai.db" "$T/bad.db" || fail "the refused database file changed"
cp "$T/good.db" "$st/shanhai.db"

# --- A locked database: another process holds the write lock for 1.5 s;
# the report waits for it (busy timeout), then is committed, not refused.
python3 - "$st/shanhai.db" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[1] + ".locked", "w").close()
time.sleep(1.5)
db.execute("ROLLBACK")
PY
locker=$!
PIDS="$PIDS $locker"
start_daemon "$c"
until [ -f "$st/shanhai.db.locked" ]; do sleep 0.02; done
report 3 > "$T/locked.out"
rm -f "$st/shanhai.db.locked"
code < "$T/locked.out" | grep -qx 201 || fail "report during a lock: $(cat "$T/locked.out")"
wait "$locker" || fail "lock holder"
echo "ok: locked database: the report waited for the lock and was committed"

if [ -n "$mounted" ]; then
	# --- Full disk while serving: 503 with Retry-After, a log line,
	# reads still served, nothing half-written, recovery once there is
	# room again. Fill the tmpfs, leaving no room for a commit.
	# First 2019, whole, so that its approval can be the first write
	# while the disk is full (503, as a report) and once there is room
	# (taken, as a report).
	for k in $(seq 12 23); do
		report $k | code | grep -qx 201 || fail "report $k"
	done
	ky=$base/v1/agreements/kecheng-yuhang
	h19=$(as auditor "$ky/years/2019/statement" | sed '$d' |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')
	dd if=/dev/zero of="$st/filler" bs=64k 2>/dev/null || true
	k=4
	report $k > "$T/full.out"
	code < "$T/full.out" | grep -qx 503 || fail "full disk: $(cat "$T/full.out")"
	grep -qi '^retry-after: [0-9]' "$T/full.out" || fail "503 without Retry-After"
	grep -q 'disk is full' "$T/full.out" || fail "503 does not say why"
	wait_log 'could not be committed: database or disk is full'
	as auditor "$base/v1/ledger/checkpoint" | code | grep -qx 200 || fail "reads while full"
	report $k | code | grep -qx 503 || fail "second try while full"
	verify_ledger
	[ "$size" -eq "$(grep -c . "$T/e.jsonl")" ] || fail "ledger and checkpoint differ"
	echo "ok: full disk: 503 Retry-After, ledger of $size entries still verifies"
	as yuhang "$ky/years/2019/approvals" -H 'Content-Type: application/json' \
	    -d "{\"statement\":\"$h19\"}" | code | grep -qx 503 ||
	    fail "an approval while the disk is full"
	rm -f "$st/filler"
	as yuhang "$ky/years/2019/approvals" -H 'Content-Type: application/json' \
	    -d "{\"statement\":\"$h19\"}" > "$T/ap.out"
	code < "$T/ap.out" | grep -qx 201 ||
	    fail "no approval after the disk had room: $(cat "$T/ap.out")"
	report $k | code | grep -qx 201 || fail "report after recovery"
	report $((k + 1)) | code | grep -qx 201 || fail "next report after recovery"
	verify_ledger
	grep -q '"type":"approval"' "$T/e.jsonl" || fail "the approval is not in the ledger"
	echo "ok: full disk: recovered, an approval first, ledger of $size entries verifies"
fi

# --- The rules folder vanishes before a reload: refused, old rules kept.
mv "$d/rules" "$d/rules.away"
reloads=$(grep -c 'reload refused: keeping' "$T/daemon.log" || true)
kill -HUP "$DPID"
wait_log "reload refused: .*rules_dir $d/rules: No such file or directory"
report 6 | code | grep -qx 201 || fail "serving with the old rules"
mv "$d/rules.away" "$d/rules"
# --- The TLS key vanishes before a reload: refused, the old one kept.
mv "$d/tls/server.key" "$d/server.key.away"
kill -HUP "$DPID"
wait_log "reload refused: .*tls.key $d/tls/server.key: No such file or directory"
report 7 | code | grep -qx 201 || fail "serving with the old TLS key"
mv "$d/server.key.away" "$d/tls/server.key"
kill -HUP "$DPID"
wait_log 'reload: done'
report 8 | code | grep -qx 201 || fail "after the reload that worked"
echo "ok: reloads without rules folder or TLS key refused, old state kept, then taken"
verify_ledger
kill "$DPID"; wait_exit "$DPID" 10 >/dev/null || fail "SIGTERM exit"

if [ -n "$mounted" ]; then
	# --- An unwritable state folder at start: refused; writable: starts.
	mount -o remount,ro "$st"
	refuse "read-only state folder" "$st/shanhai.db: unable to open database file"
	mount -o remount,rw "$st"
	start_daemon "$c"
	verify_ledger
	echo "ok: read-only state folder refused, started once writable ($size entries)"
fi
