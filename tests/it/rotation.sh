#!/bin/sh
# Key rotation in the daemon (doc/DESIGN.md, "Key rotation"): key A signs;
# a next key B set by SIGHUP is announced by a `key` entry that A alone
# signs, then every checkpoint carries A and B, and `shanhai verify` passes
# with either key alone; bad next keys and an unannounced signing key are
# refused on reload with the old state kept; with B as the signing key
# (a reload, then a restart), checkpoints carry B alone, a consistency
# proof ties an A-signed checkpoint to a B-signed one, and the whole ledger
# verifies with both keys; an unannounced key C is refused at start.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
d=$T/etc
c=$d/shanhaid.conf
write_config "$c" "$port"
SH=$BUILD/shanhai
ORIGIN=test.example/shanhai
base=https://127.0.0.1:$port
cases=$TOP/tests/cases/example-kecheng-yuhang-2026
A=$d/ledger.key.vkey
B=$d/next.key.vkey
"$SH" keygen --origin $ORIGIN --out "$d/next.key" >/dev/null
"$SH" keygen --origin $ORIGIN --out "$d/c.key" >/dev/null
start_daemon "$c"

fetch() {	# fetch URL FILE: a 200 answer's body, as the auditor
	curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" \
	    --key "$T/pki/auditor.key" -o "$2" "$base$1" || fail "GET $1"
}
# submit N: report N of the example case by its bureau; its receipt in rN.
submit() {
	sed -n "${1}p" "$cases/reports.jsonl" >"$T/r$1.json"
	case $(cat "$T/r$1.json") in *'"role": "home"'*) b=kecheng ;; *) b=yuhang ;; esac
	out=$(as $b "$base/v1/reports" -H "Content-Type: application/json" \
	    --data-binary @"$T/r$1.json")
	[ "$(printf '%s\n' "$out" | tail -1)" = 201 ] || fail "report $1: $out"
	printf '%s\n' "$out" | sed '$d' >"$T/r$1.receipt.json"
}
# ledger NAME: the latest checkpoint in NAME.cp and every entry in NAME.jsonl.
ledger() {
	fetch /v1/ledger/checkpoint "$T/$1.cp"
	fetch "/v1/ledger/entries?start=0&end=$(sed -n 2p "$T/$1.cp")" "$T/$1.jsonl"
}
# verifies KEYS...: `shanhai verify` with these keys (--vkey each) passes
# on the rest of the arguments.
verifies() {
	args=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args="$args --vkey $1"; shift; done
	shift
	# shellcheck disable=SC2086
	"$SH" verify $args "$@" >"$T/verify.out" 2>&1
}
sigs() { grep -c "^— $ORIGIN " "$1"; }

# 1. Key A signs.
for n in 1 2 3; do submit $n; done
ledger a
[ "$(sigs "$T/a.cp")" = 1 ] || fail "A's checkpoint: $(cat "$T/a.cp")"
verifies "$A" -- --checkpoint "$T/a.cp" --entries "$T/a.jsonl" || fail "A: $(cat "$T/verify.out")"
verifies "$B" -- --checkpoint "$T/a.cp" && fail "B verifies A's checkpoint"
grep -q "no signature by a known key" "$T/verify.out" || fail "B on A: $(cat "$T/verify.out")"

# 2. SIGHUP with a next key: a key entry under A alone, then A and B.
sed -i 's#signing_key = "ledger.key"; };#signing_key = "ledger.key"; next_key = "next.key"; };#' "$c"
grep -q 'next_key = "next.key"' "$c" || fail "config not changed"
hup
grep -q 'reload: done' "$T/daemon.log" || fail "next key refused: $(tail -5 "$T/daemon.log")"
wait_log "announcing the next key .* in entry $(sed -n 2p "$T/a.cp")"
grep -qF "announcing the next key $(cat "$B") in entry" "$T/daemon.log" || fail "another key announced"
wait_log "the next key .* is announced in the ledger"
wait_log "checkpoint $(($(sed -n 2p "$T/a.cp") + 1)) signed again"
ledger ab
[ "$(sed -n 2p "$T/ab.cp")" = $(($(sed -n 2p "$T/a.cp") + 1)) ] || fail "size after the key entry: $(cat "$T/ab.cp")"
[ "$(sigs "$T/ab.cp")" = 2 ] || fail "overlap checkpoint: $(cat "$T/ab.cp")"
python3 - "$T/ab.jsonl" "$B" <<'EOF' || fail "key entry"
import json, re, sys
last = open(sys.argv[1]).read().splitlines()[-1]
e = json.loads(last)
assert set(e) == {"key", "time", "type"} and e["type"] == "key", e
assert e["key"] == open(sys.argv[2]).read().strip(), e
assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", e["time"]), e
assert last == json.dumps(e, sort_keys=True, separators=(",", ":")), last
EOF
for k in "$A" "$B"; do
	verifies "$k" -- --checkpoint "$T/ab.cp" --entries "$T/ab.jsonl" ||
		fail "overlap, $k alone: $(cat "$T/verify.out")"
	grep -q "(1 other entry)" "$T/verify.out" || fail "key entry not skipped: $(cat "$T/verify.out")"
done
submit 4
ledger ab4
[ "$(sigs "$T/ab4.cp")" = 2 ] || fail "overlap report checkpoint: $(cat "$T/ab4.cp")"
for k in "$A" "$B"; do
	verifies "$k" -- --checkpoint "$T/ab4.cp" --entries "$T/ab4.jsonl" ||
		fail "report in the overlap, $k alone: $(cat "$T/verify.out")"
	verifies "$k" -- --receipt "$T/r4.receipt.json" || fail "receipt 4, $k: $(cat "$T/verify.out")"
done
# A's receipts from before still verify, with A.
verifies "$A" -- --receipt "$T/r1.receipt.json" || fail "receipt 1: $(cat "$T/verify.out")"

# 3. Bad keys on reload: refused, naming the key and why; the old kept.
# shanhaid -t (systemd's ExecReload) says the same, but for the signing key
# the ledger does not take, which only the daemon knows.
cp "$c" "$c.good"
"$BUILD/shanhaid" -t -c "$c" >"$T/t.out" 2>&1 || fail "-t on the good config: $(cat "$T/t.out")"
refused() {	# refused PATTERN [-t]: a reload is refused, saying PATTERN; so is -t
	if [ "${2:-}" = -t ]; then
		if "$BUILD/shanhaid" -t -c "$c" >"$T/t.out" 2>&1; then fail "-t took it: $1"; fi
		grep -q -- "$1" "$T/t.out" || fail "-t does not say '$1': $(cat "$T/t.out")"
	fi
	hup
	tail -3 "$T/daemon.log" | grep -q "reload refused: keeping" || fail "reload taken: $1"
	tail -3 "$T/daemon.log" | grep -q -- "$1" || fail "refusal does not say '$1': $(tail -3 "$T/daemon.log")"
	cp "$c.good" "$c"
}
"$SH" keygen --origin $ORIGIN --out "$d/open.key" >/dev/null
chmod 644 "$d/open.key"
sed -i 's#next_key = "next.key"#next_key = "open.key"#' "$c"
refused "ledger.next_key: $d/open.key: private key is accessible by group or others (mode 0644); run: chmod 600" -t
"$SH" keygen --origin other.example/ledger --out "$d/wrong.key" >/dev/null
sed -i 's#next_key = "next.key"#next_key = "wrong.key"#' "$c"
refused "ledger.next_key: $d/wrong.key was made for the origin 'other.example/ledger'" -t
sed -i 's#next_key = "next.key"#next_key = "nothere.key"#' "$c"
refused "ledger.next_key: $d/nothere.key: No such file" -t
sed -i 's#next_key = "next.key"#next_key = "ledger.key"#' "$c"
refused "ledger.next_key: the key $(cat "$A") is the signing key itself" -t
sed -i 's#signing_key = "ledger.key"#signing_key = "c.key"#' "$c"
refused "ledger.signing_key: the key $(cat "$d/c.key.vkey") neither signed the latest checkpoint"
submit 5
ledger ab5
[ "$(sigs "$T/ab5.cp")" = 2 ] || fail "after the refusals: $(cat "$T/ab5.cp")"
verifies "$A" -- --checkpoint "$T/ab5.cp" || fail "after the refusals, A"
verifies "$B" -- --checkpoint "$T/ab5.cp" || fail "after the refusals, B"
grep -c '"type":"key"' "$T/ab5.jsonl" | grep -qx 1 || fail "more key entries: $(grep '"type":"key"' "$T/ab5.jsonl")"

# 4. B the signing key and no next key: taken by a reload (B signed the
# latest already, so nothing is signed until a report), then B alone; and
# after a restart, where nothing is signed anew.
sed -i 's#signing_key = "ledger.key"; next_key = "next.key"; };#signing_key = "next.key"; };#' "$c"
grep -q 'signing_key = "next.key"; };' "$c" || fail "config not changed for B"
hup
tail -3 "$T/daemon.log" | grep -q 'reload: done' || fail "B refused: $(tail -3 "$T/daemon.log")"
ledger b0
cmp -s "$T/b0.cp" "$T/ab5.cp" || fail "the reload signed anew: $(cat "$T/b0.cp")"
submit 6
ledger b6
[ "$(sigs "$T/b6.cp")" = 1 ] || fail "B's checkpoint after the reload: $(cat "$T/b6.cp")"
verifies "$B" -- --checkpoint "$T/b6.cp" || fail "B alone after the reload: $(cat "$T/verify.out")"
kill -TERM "$DPID"
wait_exit "$DPID" 5 || fail "daemon exit"
start_daemon "$c"
ledger b1
cmp -s "$T/b1.cp" "$T/b6.cp" || fail "a restart signed anew: $(cat "$T/b1.cp")"
submit 7
ledger b
[ "$(sigs "$T/b.cp")" = 1 ] || fail "B's checkpoint: $(cat "$T/b.cp")"
verifies "$B" -- --checkpoint "$T/b.cp" || fail "B alone: $(cat "$T/verify.out")"
verifies "$A" -- --checkpoint "$T/b.cp" && fail "A verifies B's checkpoint"
verifies "$B" -- --receipt "$T/r7.receipt.json" || fail "receipt 7, B: $(cat "$T/verify.out")"
fetch "/v1/ledger/proof/consistency?from=$(sed -n 2p "$T/a.cp")&to=$(sed -n 2p "$T/b.cp")" "$T/cons.json"
verifies "$A" "$B" -- --checkpoint "$T/b.cp" --from "$T/a.cp" --proof "$T/cons.json" ||
	fail "consistency A -> B: $(cat "$T/verify.out")"
grep -q "consistent with the checkpoint of size $(sed -n 2p "$T/a.cp")" "$T/verify.out" || fail "consistency output"
verifies "$A" "$B" -- --checkpoint "$T/b.cp" --entries "$T/b.jsonl" ||
	fail "whole ledger, A and B: $(cat "$T/verify.out")"
grep -qF "entry $(sed -n 2p "$T/a.cp"): a key entry announces the key $(cat "$B")" "$T/verify.out" ||
	fail "verify does not name the announced key: $(cat "$T/verify.out")"
verifies "$B" -- --checkpoint "$T/b.cp" --entries "$T/b.jsonl" ||
	fail "whole ledger, B: $(cat "$T/verify.out")"

# 5. An unannounced key C is refused at start, naming the config key.
kill -TERM "$DPID"
wait_exit "$DPID" 5 || fail "daemon exit"
sed -i 's#signing_key = "next.key"#signing_key = "c.key"#' "$c"
if "$BUILD/shanhaid" -c "$c" >"$T/c.out" 2>&1; then fail "key C accepted"; fi
grep -q "ledger.signing_key: the key $(cat "$d/c.key.vkey") neither signed the latest checkpoint (size $(sed -n 2p "$T/b.cp")) nor is announced" "$T/c.out" ||
	fail "C's refusal: $(cat "$T/c.out")"
echo "rotation: ok"
