#!/bin/sh
# Key rotation across SIGKILL (doc/DESIGN.md, "Key rotation"): a daemon
# killed after the `key` entry of its next key is committed and before the
# latest checkpoint is signed again by both keys signs it again at the next
# start, before it serves it.
#
# Bureaus submit all along. In round r the signing key K(r-1) gets the next
# key K(r) by SIGHUP, and the daemon is SIGKILLed a moment after its log
# announces K(r); the moment follows the window (later when the key entry
# was not committed yet, earlier when the re-signing was done already,
# varied by up to 15% either way). Before the restart the database says
# where the kill fell: before the key entry, in the window (key entry, the
# latest checkpoint without K(r)) or after the re-signing. After it: the
# daemon starts; once the key entry is in, the checkpoint served (from the
# first answer on when it was in before the start) verifies with K(r-1)
# alone and with K(r) alone, and the ledger with K(r); the key entries are
# one per key; every acknowledged report is where its receipt says. Then
# K(r) becomes the signing key (reload) for the next round. All along, a
# watcher reads the checkpoint served: a size is never served without a
# signature it carried before (served while a later group waits for its
# sync, the size on disk came in its first signing: without the new key),
# nor a smaller size than before.
#
# The timing gives no guarantee, so the last step makes the window's state
# itself: a clean stop right after the re-signing, whose row is taken out
# of `resigned` again (the daemon's triggers forbid it; the test lifts one
# for that), leaves the key entry committed and the latest checkpoint
# signed by the old key alone, which the start must sign again.
# ROTKILL_ROUNDS (default 16) sets the rounds.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
d=$T/etc
c=$d/shanhaid.conf
write_config "$c" "$port"
SH=$BUILD/shanhai
ORIGIN=test.example/shanhai
base=https://127.0.0.1:$port
db=$d/state/shanhai.db
rounds=${ROTKILL_ROUNDS:-16}
workers=2
mkdir "$T/w"
cp "$d/ledger.key" "$d/k0.key"
cp "$d/ledger.key.vkey" "$d/k0.key.vkey"
for r in $(seq 1 $((rounds + 1))); do
	"$SH" keygen --origin $ORIGIN --out "$d/k$r.key" >/dev/null
done
# conf SIGNING [NEXT]: the ledger keys of the config (files in $d).
conf() {
	sed -i "s#^ledger = .*#ledger = { origin = \"$ORIGIN\"; signing_key = \"$1\";${2:+ next_key = \"$2\";} };#" "$c"
}
conf k0.key
start_daemon "$c"

# worker W: qujiang-yinzhou host reports, a month each, numbered W,
# W + workers, ...; the receipt of a 201 is kept as w/N.receipt. While
# $T/pause is there it sends nothing and says so (paused.W: its content).
worker() {
	k=$1
	while [ ! -f "$T/stop" ]; do
		if [ -f "$T/pause" ]; then
			cp "$T/pause" "$T/paused.$1" 2>/dev/null || true
			sleep 0.01
			continue
		fi
		printf '{"report_id":"rk-%d","agreement":"qujiang-yinzhou","period":"%d-%02d","role":"host","taxes":{"vat":"%d.%02d"}}' \
		    "$k" $((2019 + k / 12)) $((k % 12 + 1)) $((100000 + k)) $((k % 100)) >"$T/w/$k.json"
		code=$(curl -s -o "$T/w/$k.out" -w '%{http_code}' --cacert "$T/pki/ca.crt" \
		    --cert "$T/pki/yinzhou.crt" --key "$T/pki/yinzhou.key" \
		    -H 'Content-Type: application/json' --data-binary @"$T/w/$k.json" \
		    "$base/v1/reports" || true)
		if [ "$code" = 201 ]; then
			mv "$T/w/$k.out" "$T/w/$k.receipt"
		elif [ "$code" = 000 ]; then
			sleep 0.02	# being restarted
		fi
		k=$((k + workers))
	done
}
spawn $workers worker

# The watcher: the checkpoint served, as often as it answers, until
# $T/watched appears; it fails when a size is served without a signature
# that it carried before, or a smaller size than before.
python3 - "$port" "$T" <<'EOF' &
import http.client, os, ssl, sys, time
port, t = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(t + "/pki/ca.crt")
ctx.load_cert_chain(t + "/pki/auditor.crt", t + "/pki/auditor.key")
h, last, sigs, reads, bad = None, 0, {}, 0, []
while not os.path.exists(t + "/watched"):
    try:
        if h is None:
            h = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
        h.request("GET", "/v1/ledger/checkpoint")
        r = h.getresponse()
        body = r.read().decode()
        if r.status != 200:
            raise OSError(r.status)
    except (OSError, http.client.HTTPException):
        h = None
        time.sleep(0.01)
        continue
    reads += 1
    lines = body.split("\n")
    size, now = int(lines[1]), {l for l in lines if l.startswith("\u2014 ")}
    if size < last:
        bad.append("size %d served after %d" % (size, last))
    if not sigs.get(size, set()) <= now:
        bad.append("size %d served with %d signatures after %d" %
                   (size, len(now), len(sigs[size])))
    last = max(last, size)
    sigs.setdefault(size, set()).update(now)
    time.sleep(0.0005)
for b in bad[:5]:
    print("watcher: " + b, file=sys.stderr)
print("watcher: %d reads, %d sizes, %d wrong" % (reads, len(sigs), len(bad)))
sys.exit(1 if bad else 0)
EOF
watcher=$!
PIDS="$PIDS $watcher"

# pause: until unpause, no worker sends a report, nor has one on its way.
pauses=0
pause() {
	pauses=$((pauses + 1))
	echo $pauses >"$T/pause.new"
	mv "$T/pause.new" "$T/pause"
	for w in $(seq 0 $((workers - 1))); do
		n=0
		until [ "$(cat "$T/paused.$w" 2>/dev/null)" = $pauses ]; do
			n=$((n + 1)); [ $n -lt 500 ] || fail "worker $w does not pause"
			sleep 0.01
		done
	done
}
unpause() { rm "$T/pause"; }

fetch() {	# fetch URL FILE: a 200 answer's body, as the auditor
	curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" \
	    --key "$T/pki/auditor.key" -o "$2" "$base$1" || fail "GET $1"
}
# signs VKEY FILE: the checkpoint in FILE verifies with VKEY alone.
signs() { "$SH" verify --vkey "$1" --checkpoint "$2" >"$T/verify.out" 2>&1; }
# hupkill USEC: SIGHUP to the daemon, and SIGKILL about USEC microseconds
# (up to 15% more or less) after its log announces the next key; prints
# the microseconds it waited.
hupkill() {
	python3 - "$DPID" "$T/daemon.log" "$1" <<'EOF'
import os, random, signal, sys, time
pid, log = int(sys.argv[1]), sys.argv[2]
usec = int(int(sys.argv[3]) * random.uniform(0.85, 1.15))
f = open(log, "rb")
f.seek(0, 2)
seen = b""
os.kill(pid, signal.SIGHUP)
end = time.monotonic() + 10
while b"announcing the next key" not in seen:
    if b"reload refused" in seen or time.monotonic() > end:
        os.kill(pid, signal.SIGKILL)
        sys.exit("no next key announced: %r" % seen[-300:])
    seen += f.read()
    time.sleep(0.0001)
time.sleep(usec / 1e6)
os.kill(pid, signal.SIGKILL)
print(usec)
EOF
}
# stored: the latest signing of the latest checkpoint in the database (as
# the daemon would serve it) into $T/db.cp.
stored() {
	sqlite3 "file:$db?mode=ro" "SELECT note FROM (SELECT note, -1 AS seq
	    FROM checkpoint WHERE size = (SELECT max(size) FROM checkpoint)
	    UNION ALL SELECT note, seq FROM resigned
	    WHERE size = (SELECT max(size) FROM checkpoint))
	    ORDER BY seq DESC LIMIT 1" >"$T/db.out" || fail "reading $db"
	# The note ends with a newline, and the CLI adds one.
	sed '$d' "$T/db.out" >"$T/db.cp"
}
# announced VKEY: how many entries of the database name VKEY.
announced() {
	sqlite3 "file:$db?mode=ro" "SELECT count(*) FROM entry
	    WHERE instr(CAST(body AS TEXT), '$1') > 0"
}
# acked: the receipts so far, into $T/acked (taken before the checkpoint
# is fetched: later ones may be beyond it).
acked() { find "$T/w" -name '*.receipt' >"$T/acked"; }
# receipts: every report of $T/acked is where its receipt says in
# $T/e.jsonl.
receipts() {
	python3 - "$T/acked" "$T/e.jsonl" <<'EOF' || fail "an acknowledged report is not where its receipt said"
import json, sys
entries = open(sys.argv[2]).read().splitlines()
for f in open(sys.argv[1]).read().split():
    r = json.load(open(f))
    assert r["entries"][-1] < len(entries), (f, r["entries"], len(entries))
    e = json.loads(entries[r["index"]])
    assert e["type"] == "report" and e["sha256"] == r["report"], (f, e)
EOF
}
# restarted R OLD NEW WHEN: starts the daemon again (no report on its
# way) and checks it (above); WHEN is where the kill fell, $T/db.cp the
# latest checkpoint stored then.
restarted() {
	mark=$(($(wc -l <"$T/daemon.log") + 1))
	start_daemon "$c"
	acked
	fetch /v1/ledger/checkpoint "$T/cp"
	case $4 in
	window)	# Signed again at the start, before it is served.
		[ "$(sed -n 2p "$T/cp")" = "$(sed -n 2p "$T/db.cp")" ] ||
			fail "round $1: served $(cat "$T/cp"), stored $(cat "$T/db.cp")"
		tail -n +$mark "$T/daemon.log" |
		    grep -q "checkpoint $(sed -n 2p "$T/db.cp") signed again" ||
			fail "round $1: the start did not sign again"
		;;
	after)	# Nothing to sign again.
		cmp -s "$T/cp" "$T/db.cp" ||
			fail "round $1: served $(cat "$T/cp"), stored $(cat "$T/db.cp")"
		;;
	before)	# The start announces it, then both sign.
		n=0
		until signs "$3" "$T/cp"; do
			n=$((n + 1)); [ $n -lt 100 ] || fail "round $1: K$1 never signs: $(cat "$T/cp")"
			sleep 0.05
			fetch /v1/ledger/checkpoint "$T/cp"
		done
		;;
	esac
	signs "$2" "$T/cp" || fail "round $1 ($4): K$(($1 - 1)) alone: $(cat "$T/verify.out")"
	signs "$3" "$T/cp" || fail "round $1 ($4): K$1 alone: $(cat "$T/verify.out")"
	fetch "/v1/ledger/entries?start=0&end=$(sed -n 2p "$T/cp")" "$T/e.jsonl"
	"$SH" verify --vkey "$3" --checkpoint "$T/cp" --entries "$T/e.jsonl" >"$T/verify.out" 2>&1 ||
		fail "round $1 ($4): the ledger with K$1: $(cat "$T/verify.out")"
	grep '"type":"key"' "$T/e.jsonl" >"$T/keys.jsonl" || true
	[ "$(grep -c . "$T/keys.jsonl")" = "$1" ] && grep -qF "\"key\":\"$(cat "$3")\"" "$T/keys.jsonl" ||
		fail "round $1: key entries: $(cat "$T/keys.jsonl")"
	receipts
}
# promote R: K(R) signs alone (reload).
promote() {
	RELOADS=$(grep -c 'reload: done\|reload refused: keeping' "$T/daemon.log" || true)
	conf "k$1.key"
	hup
	grep 'reload: done\|reload refused' "$T/daemon.log" | tail -1 | grep -q 'reload: done' ||
		fail "K$1 refused: $(grep 'reload refused' "$T/daemon.log" | tail -1)"
}

delay=1000	# microseconds after the announcement
before=0 window=0 after=0
for r in $(seq 1 "$rounds"); do
	old=$d/k$((r - 1)).key.vkey new=$d/k$r.key.vkey
	conf "k$((r - 1)).key" "k$r.key"
	waited=$(hupkill "$delay") || fail "round $r: hupkill"
	wait "$DPID" 2>/dev/null || true
	pause
	stored
	n=$(announced "$(cat "$new")") || fail "reading $db"
	if [ "$n" = 0 ]; then
		when=before
		before=$((before + 1))
		delay=$((delay * 5 / 4 + 100))
	elif signs "$new" "$T/db.cp"; then
		when=after
		after=$((after + 1))
		delay=$((delay * 4 / 5))
	else
		when=window
		window=$((window + 1))
		signs "$old" "$T/db.cp" || fail "round $r: stored checkpoint: $(cat "$T/verify.out")"
	fi
	echo "round $r: killed ${waited}us after the announcement: $when"
	restarted "$r" "$old" "$new" $when
	unpause
	promote "$r"
done
touch "$T/stop"
for p in $SPAWNED; do wait "$p" || true; done
acked
fetch /v1/ledger/checkpoint "$T/cp"
fetch "/v1/ledger/entries?start=0&end=$(sed -n 2p "$T/cp")" "$T/e.jsonl"
receipts
echo "rotation_kill: $rounds kills: before the key entry $before, in the window $window, after the re-signing $after; $(grep -c . "$T/acked") reports acknowledged"

# The window's state made: K(n+1) announced and the latest signed again,
# a clean stop, and that signing taken out.
r=$((rounds + 1))
old=$d/k$rounds.key.vkey new=$d/k$r.key.vkey
conf "k$rounds.key" "k$r.key"
mark=$(($(wc -l <"$T/daemon.log") + 1))
RELOADS=$(grep -c 'reload: done\|reload refused: keeping' "$T/daemon.log" || true)
hup
size=$(tail -n +$mark "$T/daemon.log" | sed -n 's/.*announcing the next key .* in entry \([0-9]*\)$/\1/p')
[ -n "$size" ] || fail "K$r not announced"
size=$((size + 1))
wait_log "checkpoint $size signed again"
kill -TERM "$DPID"
wait_exit "$DPID" 5 || fail "daemon exit"
[ "$(sqlite3 "$db" "SELECT count(*) FROM resigned WHERE size = $size")" = 1 ] ||
	fail "the re-signing of $size is not alone in resigned"
# The trigger's text first: two sqlite3 opening the file at once race for
# the log's recovery, and the loser gets "database is locked".
trigger=$(sqlite3 "$db" "SELECT sql || ';' FROM sqlite_master WHERE name = 'resigned_no_delete'")
[ -n "$trigger" ] || fail "no trigger resigned_no_delete"
{
	echo 'BEGIN; DROP TRIGGER resigned_no_delete;'
	echo "DELETE FROM resigned WHERE size = $size;"
	echo "$trigger"
	echo 'COMMIT;'
} | sqlite3 "$db" || fail "taking the re-signing out"
stored
[ "$(sed -n 2p "$T/db.cp")" = $size ] || fail "latest stored: $(cat "$T/db.cp")"
signs "$new" "$T/db.cp" && fail "the stored checkpoint is still signed by K$r"
signs "$old" "$T/db.cp" || fail "stored checkpoint: $(cat "$T/verify.out")"
restarted $r "$old" "$new" window
echo "rotation_kill: the window's state made: checkpoint $size signed again at the start"
# Reports after it, with the watcher looking.
rm "$T/stop"
spawn $workers worker
n=$(grep -c . "$T/acked")
k=0
until [ "$(find "$T/w" -name '*.receipt' | grep -c .)" -ge $((n + 10)) ]; do
	k=$((k + 1)); [ $k -lt 500 ] || fail "no reports after the start"
	sleep 0.01
done
touch "$T/stop" "$T/watched"
for p in $SPAWNED; do wait "$p" || true; done
wait $watcher || fail "the checkpoint served went back (watcher above)"
