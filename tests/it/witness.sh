#!/bin/sh
# shanhai witness, spoken to by hand: tests/witness_client.py builds the
# add-checkpoint bodies from the C2SP tlog-witness text and checks the
# cosignatures with Python's own Ed25519. Every status (200, 400, 403,
# 404, 405, 409 with text/x.tlog.size, 413, 422), HTTP and HTTPS, the GET
# of the latest cosigned checkpoint, many clients racing through two
# processes on one state_dir (exactly one wins), a restart keeping the
# state, config errors named by file:line, `shanhai verify --witness
# --quorum` accepting and refusing (a quorum short, a future date), and
# SIGHUP reloading the logs and their keys, keeping the running config
# when the new one is bad or changes what takes a restart.
. "$TOP/tests/itlib.sh"
SH=$BUILD/shanhai
PY="python3 $TOP/tests/witness_client.py"
cd "$T"
pki
ORIGIN=test.example/shanhai

"$SH" keygen --origin $ORIGIN --out log.key >/dev/null
"$SH" keygen --origin $ORIGIN --out rogue.key >/dev/null
"$SH" keygen --origin other.example/log --out other.key >/dev/null
"$SH" keygen --witness --origin witness.one.example --out w1.key >w1.out
"$SH" keygen --witness --origin witness.two.example --out w2.key >/dev/null
cmp -s w1.out w1.key.vkey || fail "keygen --witness: stdout and .vkey differ"
# Type 0x04: the base64 of the key starts with "B" then A-P.
grep -Eq '^witness\.one\.example\+[0-9a-f]{8}\+B[A-P][A-Za-z0-9+/]{42}$' w1.key.vkey ||
	fail "witness verifier key: $(cat w1.key.vkey)"
[ "$(stat -c %a w1.key)" = 600 ] || fail "witness key mode"

# A ledger, its checkpoints, and a fork of it from entry 5 on.
seq 0 19 | sed 's/.*/{"n":&}/' >ledger.jsonl
sed '6,$s/}$/,"f":1}/' ledger.jsonl >fork.jsonl
sign() { "$SH" fixture sign --key "$1" --origin $ORIGIN --size "$2" "$3"; }
sign log.key 3 ledger.jsonl >cp3
sign log.key 7 ledger.jsonl >cp7
sign log.key 12 ledger.jsonl >cp12
sign log.key 7 fork.jsonl >fork7
sign log.key 12 fork.jsonl >fork12
sign rogue.key 7 ledger.jsonl >rogue7
"$SH" fixture sign --key other.key --origin other.example/log --size 2 ledger.jsonl >other2
"$SH" fixture consistency --from 3 --size 7 ledger.jsonl >p3_7
"$SH" fixture consistency --from 7 --size 12 ledger.jsonl >p7_12
"$SH" fixture consistency --from 7 --size 12 fork.jsonl >fp7_12

P1=$(free_port)
P2=$(free_port)
mkdir w1 w2
wconf() {	# FILE NAME KEY PORT [EXTRA]
	cat >"$1" <<EOC
name = "$2";
key = "$3";
listen = [ "127.0.0.1:$4" ];
state_dir = "state";
log_level = "debug";
${5:-}
logs = ( { origin = "$ORIGIN"; key = "${LOGVKEY:-$(cat log.key.vkey)}"; } );
EOC
}
cp w1.key w1/
cp w2.key w2/
cp "$T/pki/server.crt" "$T/pki/server.key" w2/
wconf w1/witness.conf witness.one.example w1.key "$P1"
wconf w2/witness.conf witness.two.example w2.key "$P2" \
	'tls = { certificate = "server.crt"; key = "server.key"; };'
"$SH" witness -t -c w1/witness.conf | grep -q "configuration OK" || fail "witness -t"
"$SH" witness -t -c w2/witness.conf | grep -q "configuration OK" || fail "witness -t (tls)"

# Config errors: file:line and the field.
expect_conf() {	# PATTERN: the config in bad.conf is refused naming it
	set +e
	"$SH" witness -t -c bad.conf >out 2>&1
	rc=$?
	set -e
	[ $rc = 1 ] || { cat out; fail "bad config accepted ($1)"; }
	grep -q -- "$1" out || { cat out; fail "no '$1' in: $(cat out)"; }
}
wconf bad.conf witness.one.example w1.key "$P1" 'colour = "red";'
expect_conf "bad.conf:6: unknown key 'colour'"
LOGVKEY="x+$(cut -d+ -f2- log.key.vkey)" wconf bad.conf witness.one.example w1.key "$P1"
expect_conf "bad.conf:7: logs: verifier key"
LOGVKEY=$(cat w2.key.vkey) wconf bad.conf witness.one.example w1.key "$P1"
expect_conf "a witness's key, not a log's"
wconf bad.conf witness.one.example w1.key "$P1"
sed -i 's/^logs = .*/logs = ( );/' bad.conf
expect_conf "logs: a list"
chmod 644 w1.key
wconf bad.conf witness.one.example w1.key "$P1"
expect_conf "chmod 600"
chmod 600 w1.key

start_witness() {	# DIR PORT SCHEME
	"$SH" witness -c "$1/witness.conf" >>"$1/log" 2>&1 &
	WPID=$!
	PIDS="$PIDS $WPID"
	i=0
	until curl -s -o /dev/null --cacert "$T/pki/ca.crt" "$3://127.0.0.1:$2/healthz"; do
		i=$((i + 1)); [ $i -lt 100 ] || { cat "$1/log"; fail "witness on $2 did not start"; }
		sleep 0.05
	done
}
start_witness w1 "$P1" http
W1PID=$WPID
start_witness w2 "$P2" https
U1=http://127.0.0.1:$P1/
U2=https://127.0.0.1:$P2/
PYS="$PY --cacert $T/pki/ca.crt"

# expect_add STATUS CTYPE-PATTERN ARGS...: witness_client.py add ARGS.
expect_add() {
	st=$1 ct=$2; shift 2
	$PYS add "$@" >resp || fail "client failed: $*"
	head -1 resp | grep -q "^$st $ct" || { cat resp; fail "add $*: not $st $ct"; }
	tail -n +2 resp >body
}

# 404, 403 before anything; 400 for bodies against the grammar.
expect_add 404 text/plain "$U1" 0 other2
grep -q "unknown log origin" body || fail "404 body: $(cat body)"
expect_add 403 text/plain "$U1" 0 rogue7
for b in 'old 1\n' 'old 01\n\n' 'new 0\n\n' 'old 0\nnot-a-hash\n\n' 'old 0\n\ngarbage\n' 'old -1\n\n'; do
	printf "$b" >raw
	$PYS raw "$U1" raw >resp
	head -1 resp | grep -q '^400 ' || { cat resp; fail "body '$b': not 400"; }
done
{ echo "old 0"; i=0; while [ $i -lt 64 ]; do echo "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; i=$((i + 1)); done; echo; cat cp3; } >raw
$PYS raw "$U1" raw | head -1 | grep -q '^400 ' || fail "64 proof lines: not 400"

# 200 from 0; the cosignature checked by Python's Ed25519.
expect_add 200 "text/plain" "$U1" 0 cp3
grep -q "^— witness.one.example " body || fail "200 body: $(cat body)"
[ "$(wc -l <body)" = 1 ] || fail "200 body: $(cat body)"
T3=$($PY check w1.key.vkey cp3 body) || fail "cosignature does not verify independently"
now=$(date +%s)
[ "$T3" -le "$now" ] && [ "$T3" -ge $((now - 60)) ] || fail "cosignature time $T3, now $now"
# 409: the latest is 3, as text/x.tlog.size.
expect_add 409 "text/x.tlog.size" "$U1" 0 cp7
[ "$(cat body)" = 3 ] || fail "409 body: $(cat body)"
printf '3\n' | cmp -s - body || fail "409 body is not '3\\n'"
# 400: old above size; 422: a proof that does not verify.
expect_add 400 text/plain "$U1" 7 cp3
expect_add 422 text/plain "$U1" 3 cp7 p7_12
expect_add 200 text/plain "$U1" 3 cp7 p3_7
$PY check w1.key.vkey cp7 body >/dev/null || fail "cosignature on 7"
# The fork: same size, other root (409); its extension (422).
expect_add 409 text/plain "$U1" 7 fork7
expect_add 422 text/plain "$U1" 7 fork12 fp7_12

# 405 and 413 from the front; 404 for other paths.
code=$(curl -s -o /dev/null -w '%{http_code}' "${U1}add-checkpoint")
[ "$code" = 405 ] || fail "GET add-checkpoint: $code"
head -c 70000 /dev/zero | tr '\0' a >big
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @big "${U1}add-checkpoint")
[ "$code" = 413 ] || fail "70 kB body: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "${U1}nothing")
[ "$code" = 404 ] || fail "GET /nothing: $code"

# GET the latest cosigned checkpoint: the log's signature and w1's.
curl -sf "${U1}checkpoint/$ORIGIN" >w1cp || fail "GET checkpoint"
head -2 w1cp | tail -1 | grep -qx 7 || fail "GET checkpoint: $(cat w1cp)"
"$SH" verify --vkey log.key.vkey --checkpoint w1cp --witness w1.key.vkey >out ||
	{ cat out; fail "verify --witness"; }
grep -q "cosigned by 1 witness(es), quorum 1: witness.one.example" out || fail "$(cat out)"
code=$(curl -s -o /dev/null -w '%{http_code}' "${U1}checkpoint/other.example/log")
[ "$code" = 404 ] || fail "GET unknown log: $code"

# HTTPS: w2 cosigns 7 from 0; the two cosignatures make a quorum of 2.
expect_add 200 text/plain "$U2" 0 cp7
cp body w2line
{ cat w1cp; cat w2line; } >both
"$SH" verify --vkey log.key.vkey --checkpoint both --witness w1.key.vkey \
	--witness w2.key.vkey --quorum 2 >out || { cat out; fail "quorum 2"; }
cat w1.key.vkey w2.key.vkey >ws.vkey
"$SH" verify --vkey log.key.vkey --checkpoint both --witness ws.vkey >out ||
	{ cat out; fail "quorum (default: all) from one file"; }
set +e
"$SH" verify --vkey log.key.vkey --checkpoint w1cp --witness w1.key.vkey \
	--witness w2.key.vkey --quorum 2 >out 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "cosigned by 1 of the given witnesses, the quorum is 2" out ||
	{ cat out; fail "a quorum short was accepted ($rc)"; }
# Dated in the future (an hour): refused, even with a good signature.
$PY forge w1.key witness.one.example cp7 $(($(date +%s) + 3600)) >future
{ cat cp7; cat future; } >futurecp
set +e
"$SH" verify --vkey log.key.vkey --checkpoint futurecp --witness w1.key.vkey >out 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "in the future" out || { cat out; fail "future cosignature ($rc)"; }
# The same forged in the past verifies: the forge is the spec's format.
$PY forge w1.key witness.one.example cp7 $(($(date +%s) - 10)) >past
{ cat cp7; cat past; } >pastcp
"$SH" verify --vkey log.key.vkey --checkpoint pastcp --witness w1.key.vkey >out ||
	{ cat out; fail "a cosignature made by the spec's recipe"; }
# Witness keys and log keys are not interchangeable.
set +e
"$SH" verify --vkey w1.key.vkey --checkpoint both >out 2>&1; rc=$?
set -e
[ $rc = 2 ] && grep -q "give it with --witness" out || { cat out; fail "witness key as --vkey"; }

# Two processes on one state_dir, 16 clients racing 7 -> 12: one wins.
mkdir w1b
cp w1/w1.key w1b/
P3=$(free_port)
wconf w1b/witness.conf witness.one.example w1.key "$P3"
sed -i "s|state_dir = \"state\"|state_dir = \"$T/w1/state\"|" w1b/witness.conf
start_witness w1b "$P3" http
res=$($PY race "$U1" "http://127.0.0.1:$P3/" 7 cp12 p7_12 16)
[ "$res" = "200:1 409:15 other:0" ] || fail "race: $res"
expect_add 409 text/x.tlog.size "http://127.0.0.1:$P3/" 7 cp12 p7_12
[ "$(cat body)" = 12 ] || fail "after the race: $(cat body)"

# SIGTERM: exit 0; a restart keeps the state.
kill -TERM "$W1PID"
wait_exit "$W1PID" 5 || fail "witness exit status $?"
start_witness w1 "$P1" http
expect_add 409 text/x.tlog.size "$U1" 3 cp7 p3_7
[ "$(cat body)" = 12 ] || fail "after a restart: $(cat body)"
grep -q "409 $ORIGIN: old size 0, the latest cosigned is 3" w1/log || fail "no log line for a 409"
# SIGHUP: the logs and their keys are read again; a bad config, or one that
# changes what takes a restart (name, key, listen, state_dir), is logged
# and the running one kept, whole.
hup() {	# PATTERN: SIGHUP to w1, until its log has one more "SIGHUP:" line
	n0=$(grep -c "SIGHUP:" w1/log || true)
	kill -HUP "$WPID"
	i=0
	until [ "$(grep -c "SIGHUP:" w1/log || true)" -gt "$n0" ]; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "no log line after SIGHUP"
		sleep 0.05
	done
	tail -1 w1/log | grep -q -- "$1" || fail "after SIGHUP, not '$1': $(tail -1 w1/log)"
}
sign rogue.key 15 ledger.jsonl >rogue15
"$SH" fixture consistency --from 12 --size 15 ledger.jsonl >p12_15
expect_add 403 text/plain "$U1" 12 rogue15 p12_15
wconf w1/witness.conf witness.one.example w1.key "$P1"
sed -i "s|^logs = ( \(.*\) );|logs = ( \1, { origin = \"$ORIGIN\"; key = \"$(cat rogue.key.vkey)\"; },\n  { origin = \"other.example/log\"; key = \"$(cat other.key.vkey)\"; } );|" w1/witness.conf
hup "SIGHUP: .*witness.conf reloaded: 2 log(s)"
expect_add 200 text/plain "$U1" 12 rogue15 p12_15
expect_add 200 text/plain "$U1" 0 other2
cp w1/witness.conf w1/good.conf
echo 'logs = (' >>w1/witness.conf
hup "SIGHUP: .*witness.conf:[0-9]*: .*; the running configuration is kept"
cp w2.key w1/
for change in 's/^name = .*/name = "witness.three.example";/' \
    "s/^listen = .*/listen = [ \"127.0.0.1:$P3\" ];/" 's/^state_dir = .*/state_dir = "state2";/' \
    's/^key = .*/key = "w2.key";/'; do
	# The other log dropped too: still served after a refusal.
	sed "$change; /other.example/d; s/ },\$/ } );/" w1/good.conf >w1/witness.conf
	grep -q other.example w1/witness.conf && fail "the other log not dropped"
	hup "changed, which takes a restart; the running configuration is kept"
	code=$(curl -s -o /dev/null -w '%{http_code}' "${U1}checkpoint/other.example/log")
	[ "$code" = 200 ] || fail "after a refused reload ($change): the other log gone ($code)"
done
grep -q "name changed" w1/log && grep -q "listen changed" w1/log &&
	grep -q "state_dir changed" w1/log && grep -q "key (another cosigning key" w1/log ||
	fail "refusals not named: $(grep SIGHUP w1/log)"
[ ! -e w1/state2 ] || fail "a refused state_dir was made"
# Dropping the log is a change that a reload makes.
sed '/other.example/d; s/ },$/ } );/' w1/good.conf >w1/witness.conf
hup "reloaded: 1 log(s)"
code=$(curl -s -o /dev/null -w '%{http_code}' "${U1}checkpoint/other.example/log")
[ "$code" = 404 ] || fail "the dropped log still served: $code"
expect_add 404 text/plain "$U1" 2 other2
expect_add 409 text/x.tlog.size "$U1" 12 cp12
[ "$(cat body)" = 15 ] || fail "after the reloads: $(cat body)"
echo "witness: ok"
