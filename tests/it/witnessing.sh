#!/bin/sh
# shanhaid with two `shanhai witness` (SPEC 6.6, 6.7) and a tile mirror:
# the witnessed checkpoint follows the ledger and verifies with --quorum 2;
# tiles_dir/checkpoint is the witnessed one; one witness stopped leaves
# ingest as fast as before while the witnessed checkpoint stays behind the
# quorum, and /metrics says by how much; the witness back, it catches up;
# a bureau's receipt verifies against the witnessed checkpoint;
# an old copy of the state refuses to start because a witness cosigned
# more than it holds.
. "$TOP/tests/itlib.sh"
SH=$BUILD/shanhai
pki
port=$(free_port)
d=$T/etc
c=$d/shanhaid.conf
write_config "$c" "$port"
VKEY=$(cat "$d/ledger.key.vkey")
P1=$(free_port)
P2=$(free_port)
for w in 1 2; do
	mkdir -p "$T/w$w"
	"$SH" keygen --witness --origin "witness$w.test.example" --out "$T/w$w/w.key" >/dev/null
	eval "p=\$P$w"
	cat >"$T/w$w/witness.conf" <<EOC
name = "witness$w.test.example";
key = "w.key";
listen = "127.0.0.1:$p";
state_dir = "state";
logs = ( { origin = "test.example/shanhai"; key = "$VKEY"; } );
EOC
done
start_witness() {	# N
	eval "p=\$P$1"
	"$SH" witness -c "$T/w$1/witness.conf" >>"$T/w$1/log" 2>&1 &
	eval "W$1PID=$!"
	PIDS="$PIDS $!"
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$p/healthz"; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "witness $1 did not start"
		sleep 0.05
	done
}
start_witness 1
start_witness 2
sed -i 's|^ledger = { \(.*\) };$|ledger = { \1 tiles_dir = "tiles"; };|' "$c"
cat >>"$c" <<EOC
witnesses = (
  { name = "witness1.test.example"; key = "$(cat "$T/w1/w.key.vkey")"; url = "http://127.0.0.1:$P1/"; },
  { name = "witness2.test.example"; key = "$(cat "$T/w2/w.key.vkey")"; url = "http://127.0.0.1:$P2"; }
);
witness_quorum = 2;
witness_interval = 1;
EOC
"$BUILD/shanhaid" -t -c "$c" >"$T/t.out" 2>&1 || fail "shanhaid -t: $(cat "$T/t.out")"
start_daemon "$c"
base=https://127.0.0.1:$port

grep . "$TOP"/tests/cases/example-*/reports.jsonl | cut -d: -f2- >"$T/reports.jsonl"
# submit FROM TO: reports FROM..TO; the seconds they took in $T/took.
submit() {
	t0=$(date +%s.%N)
	sed -n "$1,$2p" "$T/reports.jsonl" | while IFS= read -r line; do
		printf '%s\n' "$line" >"$T/r.json"
		b=$(bureau_of "$T/r.json")
		as "$b" "$base/v1/reports" -H "Content-Type: application/json" \
		    --data-binary @"$T/r.json" >"$T/ans"
		code=$(tail -1 "$T/ans")
		[ "$code" = 201 ] || fail "report: $code: $line"
		[ -e "$T/receipt1.json" ] || head -n -1 "$T/ans" >"$T/receipt1.json"
	done
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", b - a }' >"$T/took"
}
get() {	# PATH FILE: a 200 answer into FILE; prints the status
	curl -s --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" \
	    --key "$T/pki/auditor.key" -o "$2" -w '%{http_code}' "$base$1"
}
size_of() { sed -n 2p "$1"; }
# witnessed_is SIZE: until the witnessed checkpoint has that size.
witnessed_is() {
	i=0
	while :; do
		[ "$(get /v1/ledger/checkpoint/witnessed "$T/wcp")" = 200 ] &&
		    [ "$(size_of "$T/wcp")" = "$1" ] && return 0
		i=$((i + 1)); [ $i -lt 200 ] || fail "witnessed never reached $1: $(cat "$T/wcp")"
		sleep 0.05
	done
}
metric() { curl -s --cacert "$T/pki/ca.crt" --cert "$T/pki/operator.crt" \
    --key "$T/pki/operator.key" "$base/metrics" | grep "^$1" ; }

n=$(wc -l <"$T/reports.jsonl")
submit 1 10
get /v1/ledger/checkpoint "$T/cp" >/dev/null
S1=$(size_of "$T/cp")
witnessed_is "$S1"
cp "$T/wcp" "$T/wcp1"
# Both cosignatures, checked by the bureau's tool with a quorum of 2.
cat "$T/w1/w.key.vkey" "$T/w2/w.key.vkey" >"$T/wit.vkey"
"$SH" verify --vkey "$d/ledger.key.vkey" --checkpoint "$T/wcp" \
	--witness "$T/wit.vkey" --quorum 2 >"$T/v.out" || fail "verify: $(cat "$T/v.out")"
grep -q "cosigned by 2 witness(es), quorum 2" "$T/v.out" || fail "$(cat "$T/v.out")"
# The first report's receipt: its checkpoint, signed at once, carries no
# cosignature; against the witnessed checkpoint, with the consistency proof
# from its size, it verifies under the quorum.
RS=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["proof"], end="")' \
	"$T/receipt1.json" | sed '1,/^$/d' | sed -n 2p)
[ "$RS" -lt "$S1" ] || fail "the first receipt's checkpoint is of size $RS, not below $S1"
set +e
"$SH" verify --vkey "$d/ledger.key.vkey" --receipt "$T/receipt1.json" \
	--witness "$T/wit.vkey" --quorum 2 >"$T/v.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "carries no cosignature by the given witnesses" "$T/v.out" ||
	fail "receipt alone with --witness: $rc $(cat "$T/v.out")"
[ "$(get "/v1/ledger/proof/consistency?from=$RS&to=$S1" "$T/cons.json")" = 200 ] ||
	fail "consistency proof: $(cat "$T/cons.json")"
"$SH" verify --vkey "$d/ledger.key.vkey" --checkpoint "$T/wcp" --receipt "$T/receipt1.json" \
	--proof "$T/cons.json" --witness "$T/wit.vkey" --quorum 2 >"$T/v.out" 2>&1 ||
	fail "receipt against the witnessed checkpoint: $(cat "$T/v.out")"
grep -q "its checkpoint (size $RS) is consistent with the checkpoint of size $S1" "$T/v.out" ||
	fail "$(cat "$T/v.out")"
# The mirror's checkpoint is the witnessed one.
i=0
until cmp -s "$T/wcp" "$d/tiles/checkpoint"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "tiles/checkpoint is not the witnessed one"
	sleep 0.05
done
python3 "$TOP/tests/tiles_read.py" "$d/tiles" >/dev/null 2>"$T/read.err" || fail "$(cat "$T/read.err")"
metric shanhai_witnessed_lag_entries | grep -q ' 0$' || fail "lag: $(metric shanhai_witnessed)"
# The threads by name, so that their CPU is told apart (bench_witnessing).
cat /proc/"$DPID"/task/*/comm >"$T/threads"
grep -qx witnessing "$T/threads" && grep -qx mirror "$T/threads" ||
	fail "threads: $(tr '\n' ' ' <"$T/threads")"

# An old copy of the state, taken while stopped.
kill -TERM "$DPID"
wait_exit "$DPID" 10 || fail "shanhaid exit status $?"
cp -a "$d/state" "$T/state.old"
start_daemon "$c"
submit 11 20
took_both=$(cat "$T/took")
get /v1/ledger/checkpoint "$T/cp" >/dev/null
S2=$(size_of "$T/cp")
witnessed_is "$S2"

# Witness 2 stops: ingest goes on, the witnessed checkpoint stays behind.
kill -TERM "$W2PID"
wait_exit "$W2PID" 5 || fail "witness 2 exit status $?"
submit 21 30
took_one=$(cat "$T/took")
get /v1/ledger/checkpoint "$T/cp" >/dev/null
S3=$(size_of "$T/cp")
[ "$S3" -gt "$S2" ] || fail "the ledger did not grow"
sleep 2.5
[ "$(get /v1/ledger/checkpoint/witnessed "$T/wcp")" = 200 ] || fail "witnessed gone"
[ "$(size_of "$T/wcp")" = "$S2" ] || fail "witnessed moved without the quorum: $(size_of "$T/wcp")"
metric 'shanhai_witnessed_lag_entries' | grep -q " $((S3 - S2))$" ||
	fail "lag in entries: $(metric shanhai_witnessed)"
metric 'shanhai_witness_errors_total{witness="witness2.test.example"}' | grep -qv ' 0$' ||
	fail "witness 2 errors: $(metric shanhai_witness)"
metric 'shanhai_witness_cosigned_size{witness="witness1.test.example"}' | grep -q " $S3$" ||
	fail "witness 1 size: $(metric shanhai_witness)"
grep -q "witnessing: witness2.test.example: connect" "$T/daemon.log" || fail "no log line for witness 2"
"$SH" status --url "$base" --cert "$T/pki/operator.crt" --key "$T/pki/operator.key" \
	--cacert "$T/pki/ca.crt" >"$T/status" || fail "status: $(cat "$T/status")"
grep -q "witnessed checkpoint: size $S2, $((S3 - S2)) entries and [0-9]* s behind" "$T/status" ||
	fail "status: $(cat "$T/status")"
grep -Eq "witness1.test.example +$S3 +0 " "$T/status" || fail "status: $(cat "$T/status")"
grep -Eq "witness2.test.example +$S2 +[1-9]" "$T/status" || fail "status: $(cat "$T/status")"
grep -q "tile mirror: size $S3 published" "$T/status" || fail "status: $(cat "$T/status")"
# Ingest did not wait: ten reports, no slower than twice the time with both.
awk -v a="$took_one" -v b="$took_both" 'BEGIN { exit !(a < 2 * b + 1) }' ||
	fail "ingest slowed down: $took_one s against $took_both s"

# Witness 2 back (its state kept): the witnessed checkpoint catches up.
start_witness 2
witnessed_is "$S3"
"$SH" verify --vkey "$d/ledger.key.vkey" --checkpoint "$T/wcp" \
	--witness "$T/wit.vkey" --quorum 2 >"$T/v.out" || fail "verify: $(cat "$T/v.out")"

# Restore from the mirror, its checkpoint cosigned by both witnesses.
i=0
until cmp -s "$T/wcp" "$d/tiles/checkpoint"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "tiles/checkpoint is not the witnessed one"
	sleep 0.05
done
"$SH" restore --from "$d/tiles" --vkey "$d/ledger.key.vkey" --witness "$T/wit.vkey" \
	--quorum 2 --state "$T/restored" >"$T/r.out" 2>&1 || fail "restore: $(cat "$T/r.out")"
grep -q "checked against the signed checkpoint and its cosignatures" "$T/r.out" || fail "$(cat "$T/r.out")"
"$SH" keygen --witness --origin witness3.test.example --out "$T/w3.key" >/dev/null
set +e
"$SH" restore --from "$d/tiles" --vkey "$d/ledger.key.vkey" --witness "$T/w1/w.key.vkey" \
	--witness "$T/w3.key.vkey" --quorum 2 --state "$T/restored3" >"$T/r.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] && grep -q "cosigned by 1 of the given witnesses, the quorum is 2" "$T/r.out" ||
	fail "restore short of the quorum: $rc $(cat "$T/r.out")"
[ ! -e "$T/restored3/shanhai.db" ] || fail "a refused restore left a database"

# Never a fork: the old state, without the mirror to tell (tiles moved
# away), is refused because the witnesses cosigned more.
kill -TERM "$DPID"
wait_exit "$DPID" 10 || fail "shanhaid exit status $?"
mv "$d/state" "$T/state.new"
mv "$d/tiles" "$T/tiles.new"
cp -a "$T/state.old" "$d/state"
start_refused "$c" "$T/fork.log"
grep -q "never a fork: witness witness1.test.example has cosigned size $S3 of this ledger but the database in .* holds only $S1 entries" "$T/fork.log" ||
	fail "refusal: $(cat "$T/fork.log")"
echo "witnessing: ok (witnessed $S1, $S2, $S3; ten reports in $took_both s with both witnesses, $took_one s with one)"
