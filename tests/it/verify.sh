#!/bin/sh
# shanhai keygen and shanhai verify on ledgers built from the example cases:
# a good ledger passes; a changed entry, a re-signed ledger whose settlement
# does not follow from its rules, missing, extra and non-canonical entries,
# wrong keys, bad receipts and bad consistency proofs all fail, naming why.
set -eu
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
SH=$TOP/$BUILD/shanhai
W=${TMPDIR:-/tmp}/verify.$$
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
cd "$W"
ORIGIN=audit.example/shanhai
T=2026-11-27T10:00:00Z

fail() { echo "FAIL: $*"; exit 1; }
# expect CODE PATTERN CMD...: exit status CODE and PATTERN in its output.
expect() {
	code=$1 pat=$2; shift 2
	set +e
	"$@" >out 2>&1
	rc=$?
	set -e
	[ "$rc" -eq "$code" ] || { cat out; fail "$* exited $rc, not $code"; }
	grep -q -- "$pat" out || { cat out; fail "$*: no '$pat' in output"; }
}

# keygen: 0600 key, verifier key line in FILE.vkey and on stdout, no overwrite.
"$SH" keygen --origin $ORIGIN --out k1.pem >k1.out
[ "$(stat -c %a k1.pem)" = 600 ] || fail "key mode $(stat -c %a k1.pem)"
grep -q 'BEGIN PRIVATE KEY' k1.pem || fail "not PKCS#8 PEM"
cmp -s k1.out k1.pem.vkey || fail "stdout and k1.pem.vkey differ"
grep -Eq "^$ORIGIN\+[0-9a-f]{8}\+A[Q-Za-f][A-Za-z0-9+/]{42}$" k1.pem.vkey ||
	fail "verifier key line: $(cat k1.pem.vkey)"
expect 2 "not overwriting" "$SH" keygen --origin $ORIGIN --out k1.pem
expect 2 usage "$SH" keygen --out k9.pem
"$SH" keygen --origin $ORIGIN --out k2.pem >/dev/null
"$SH" keygen --origin $ORIGIN --out sm2.pem --sm2 >/dev/null
grep -Eq "^$ORIGIN\+[0-9a-f]{8}\+/w" sm2.pem.vkey || fail "SM2 key line"

# A ledger of the four sample agreements, as the daemon writes it.
mkdir rules
cp "$TOP/rules/"*.conf rules/
for c in example-kecheng-yuhang-2026 example-longquan-xiaoshan-2026 \
    example-qujiang-yinzhou-2023-2024 example-kaihua-tongxiang-2016-2024; do
	cat "$TOP/tests/cases/$c/reports.jsonl" >>reports.jsonl
done
"$SH" fixture build --rules rules --time $T \
	--submitter "$(printf '%s' bureau | sha256sum | cut -c1-64)" reports.jsonl >ledger.jsonl
grep -q '"submitter":"' ledger.jsonl || fail "no submitter in the report entries"
N=$(wc -l <ledger.jsonl)
sign() { "$SH" fixture sign --key k1.pem --origin $ORIGIN "$@"; }
sign ledger.jsonl >cp
expect 0 "replay of 4 rules" "$SH" verify --vkey k1.pem.vkey --checkpoint cp \
	--entries ledger.jsonl
grep -q "size $N: signature verified" out || fail "summary: $(cat out)"
expect 0 "replay of 4 rules" sh -c "'$SH' verify --vkey k1.pem.vkey --checkpoint cp --entries - <ledger.jsonl"
# The empty ledger.
: >empty.jsonl
sign empty.jsonl >cp0
expect 0 "no entries" "$SH" verify --vkey k1.pem.vkey --checkpoint cp0 --entries empty.jsonl

# Signatures: another key alone fails; rotation overlap (both keys sign);
# several --vkey accept either; an SM2 co-signature is ignored by Ed25519
# verifiers and verifies on its own.
expect 1 "no signature by a known key" "$SH" verify --vkey k2.pem.vkey --checkpoint cp
"$SH" fixture sign --key k1.pem --key k2.pem --origin $ORIGIN ledger.jsonl >cp12
expect 0 verified "$SH" verify --vkey k2.pem.vkey --checkpoint cp12 --entries ledger.jsonl
expect 0 verified "$SH" verify --vkey k1.pem.vkey --vkey k2.pem.vkey --checkpoint cp
cat k1.pem.vkey k2.pem.vkey >both.vkey
expect 0 verified "$SH" verify --vkey both.vkey --checkpoint cp12
"$SH" fixture sign --key k1.pem --key sm2.pem --origin $ORIGIN ledger.jsonl >cpsm
expect 0 verified "$SH" verify --vkey k1.pem.vkey --checkpoint cpsm
expect 0 verified "$SH" verify --vkey sm2.pem.vkey --checkpoint cpsm
sed 's/^\(audit.example\/shanhai\)$/\1x/' cp >cpbad
expect 1 "does not verify" "$SH" verify --vkey k1.pem.vkey --checkpoint cpbad

# One changed entry, signature kept: the replay names it, the root differs.
S=$(grep -n '"type":"settlement"' ledger.jsonl | sed -n 3p | cut -d: -f1)
I=$((S - 1))
python3 - "$S" <<'EOF'
import json, sys
n = int(sys.argv[1])
lines = open("ledger.jsonl").read().split("\n")
e = json.loads(lines[n - 1])
home = e["home"]
cents = int(home.replace(".", "")) + 1
e["home"] = "%d.%02d" % divmod(cents, 100)
lines[n - 1] = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
open("changed.jsonl", "w").write("\n".join(lines))
EOF
expect 1 "entry $I: settlement: field \"home\"" "$SH" verify --vkey k1.pem.vkey \
	--checkpoint cp --entries changed.jsonl
grep -q "do not hash to the checkpoint's root" out || fail "root not checked"
# The root's line continues the FAILED line: it comes right after it.
sed -n 1p out | grep -q "^shanhai verify: FAILED: entry $I: settlement: field \"home\"" ||
	{ cat out; fail "the FAILED line is not the first"; }
[ "$(sed -n 2p out)" = "shanhai verify: and entries 0..$((N - 1)) do not hash to the checkpoint's root" ] ||
	{ cat out; fail "the root's line does not follow the FAILED line"; }
[ "$(wc -l <out)" -eq 2 ] || { cat out; fail "more than two lines"; }

# An entries file with CR LF line endings (e.g. through a DOS editor) says so.
sed 's/$/\r/' ledger.jsonl >crlf.jsonl
expect 1 "entry 0: not canonical JSON: its line ends in CR LF (the file has CR line endings" \
	"$SH" verify --vkey k1.pem.vkey --checkpoint cp --entries crlf.jsonl

# The same, re-signed: the signature and tree are fine, the number is not.
sign changed.jsonl >cpchanged
expect 1 "entry $I: settlement: field \"home\"" "$SH" verify --vkey k1.pem.vkey \
	--checkpoint cpchanged --entries changed.jsonl
if grep -q "root" out; then cat out; fail "re-signed ledger: root should match"; fi

# "time" differs but nothing else: re-signed, it verifies.
sed 's/"time":"2026-11-27T10:00:00Z"/"time":"2026-11-28T09:00:00Z"/' ledger.jsonl >retimed.jsonl
sign retimed.jsonl >cpretimed
expect 0 verified "$SH" verify --vkey k1.pem.vkey --checkpoint cpretimed --entries retimed.jsonl

# "submitter" is the daemon's only on report entries.
python3 - "$S" <<'EOF2'
import json, sys
n = int(sys.argv[1])
lines = open("ledger.jsonl").read().split("\n")
e = json.loads(lines[n - 1])
e["submitter"] = "00" * 32
lines[n - 1] = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
open("submitter.jsonl", "w").write("\n".join(lines))
EOF2
sign submitter.jsonl >cpsub
expect 1 "entry $I: settlement: field \"submitter\" is not one the replay gives" \
	"$SH" verify --vkey k1.pem.vkey --checkpoint cpsub --entries submitter.jsonl

# A settlement removed, or doubled; an entry not canonical; all re-signed.
sed "${S}d" ledger.jsonl >missing.jsonl
sign missing.jsonl >cpm
expect 1 "entry $I: missing" "$SH" verify --vkey k1.pem.vkey --checkpoint cpm --entries missing.jsonl
sed "${S}p" ledger.jsonl >extra.jsonl
sign extra.jsonl >cpx
expect 1 "entry $((I + 1)): extra" "$SH" verify --vkey k1.pem.vkey --checkpoint cpx --entries extra.jsonl
sed "${S}s/^{\"agreement\":/{ \"agreement\":/" ledger.jsonl >spaced.jsonl
sign spaced.jsonl >cps
expect 1 "entry $I: not canonical JSON" "$SH" verify --vkey k1.pem.vkey --checkpoint cps --entries spaced.jsonl
# A key entry (rotation announcement) is hashed and skipped by the replay;
# the summary names the key it announces. One of another origin, without
# time or with a bad key fails.
keyed() {	# keyed BODY: the ledger with BODY as entry 3, signed in cpk
	{ head -n 3 ledger.jsonl; printf '%s\n' "$1"; tail -n +4 ledger.jsonl; } >keyed.jsonl
	sign keyed.jsonl >cpk
}
keyed "{\"key\":\"$(cat k2.pem.vkey)\",\"time\":\"$T\",\"type\":\"key\"}"
expect 0 "1 other entry" "$SH" verify --vkey k1.pem.vkey --checkpoint cpk --entries keyed.jsonl
grep -qF "entry 3: a key entry announces the key $(cat k2.pem.vkey)" out || { cat out; fail "key entry not named"; }
"$SH" keygen --origin other.example/x --out k3.pem >/dev/null
keyed "{\"key\":\"$(cat k3.pem.vkey)\",\"time\":\"$T\",\"type\":\"key\"}"
expect 1 "entry 3: key entry: a key of other.example/x, not of $ORIGIN" "$SH" verify \
	--vkey k1.pem.vkey --checkpoint cpk --entries keyed.jsonl
keyed "{\"key\":\"$(cat k2.pem.vkey)\",\"type\":\"key\"}"
expect 1 "entry 3: a key entry is {key, time, type}" "$SH" verify \
	--vkey k1.pem.vkey --checkpoint cpk --entries keyed.jsonl
keyed "{\"key\":\"$ORIGIN+00000000+AAAA\",\"time\":\"$T\",\"type\":\"key\"}"
expect 1 "entry 3: key entry: verifier key" "$SH" verify \
	--vkey k1.pem.vkey --checkpoint cpk --entries keyed.jsonl
# Fewer entries than the checkpoint covers; more are fine (not yet signed).
# B: a size at a report's first entry, where the daemon may sign; one more
# ends inside the report's entries, which the daemon never signs.
head -n $((N - 1)) ledger.jsonl >short.jsonl
expect 1 "covers $N" "$SH" verify --vkey k1.pem.vkey --checkpoint cp --entries short.jsonl
B=$(($(grep -n '"type":"report"' ledger.jsonl | sed -n 10p | cut -d: -f1) - 1))
sign --size $B ledger.jsonl >cpB
expect 0 "entries 0..$((B - 1))" "$SH" verify --vkey k1.pem.vkey --checkpoint cpB --entries ledger.jsonl
# The lines past the checkpoint's size are counted, not passed over in silence.
grep -qx "ledger.jsonl: $((N - B)) more lines after the checkpoint's $B entries: not covered by it, not checked" out ||
	{ cat out; fail "lines past the checkpoint not counted"; }
# One line more, from standard input: counted too.
expect 0 "^-: 1 more line after the checkpoint's $N entries" sh -c \
	"{ cat ledger.jsonl; echo; } | '$SH' verify --vkey k1.pem.vkey --checkpoint cp --entries -"
sign --size $((B + 1)) ledger.jsonl >cpB1
expect 1 "entry $((B + 1)): missing" "$SH" verify --vkey k1.pem.vkey --checkpoint cpB1 --entries ledger.jsonl

# Receipts: the report entry's tlog-proof against a signed checkpoint; the
# proof carries the entry as its extra data, so the receipt verifies alone.
R=$(grep -n '"type":"report"' ledger.jsonl | sed -n 5p | cut -d: -f1)
R=$((R - 1))
"$SH" fixture receipt --key k1.pem --origin $ORIGIN --index $R ledger.jsonl >receipt.json
expect 0 "is entry $R, included" "$SH" verify --vkey k1.pem.vkey --checkpoint cp \
	--entries ledger.jsonl --receipt receipt.json
expect 0 "is entry $R, included" "$SH" verify --vkey k1.pem.vkey --receipt receipt.json
expect 0 "is entry $R, included" "$SH" verify --vkey k1.pem.vkey --checkpoint cp --receipt receipt.json
expect 1 "no signature by a known key" "$SH" verify --vkey k2.pem.vkey --receipt receipt.json
expect 1 "newer than the one under audit" "$SH" verify --vkey k1.pem.vkey --checkpoint cpB \
	--receipt receipt.json
expect 2 usage "$SH" verify --vkey k1.pem.vkey --entries ledger.jsonl --receipt receipt.json
sed "s/index $R/index $((R + 1))/" receipt.json >receipt-idx.json
expect 1 "receipt" "$SH" verify --vkey k1.pem.vkey --checkpoint cp --entries ledger.jsonl \
	--receipt receipt-idx.json
expect 1 "the proof is for entry $((R + 1))" "$SH" verify --vkey k1.pem.vkey --receipt receipt-idx.json
# mutate.py RECEIPT OUT WHAT: a receipt changed in one way.
cat >mutate.py <<'EOF'
import base64, json, sys
r = json.load(open(sys.argv[1]))
lines = r["proof"].split("\n")
assert lines[1].startswith("extra ") and lines[2].startswith("index ")
entry = json.loads(base64.b64decode(lines[1][6:]))
what = sys.argv[3]
def canon(e):
    return json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
def extra(text):
    lines[1] = "extra " + base64.b64encode(text.encode()).decode()
if what == "hash":
    h = lines[3]
    lines[3] = ("A" if h[0] != "A" else "B") + h[1:]
elif what == "noextra":
    del lines[1]
elif what == "spaced":
    extra(json.dumps(entry, sort_keys=True))
elif what == "time":
    entry["time"] = "2030-01-01T00:00:00Z"
    extra(canon(entry))
elif what == "sha":
    entry["report"]["report_id"] += "x"
    extra(canon(entry))
elif what == "member":
    entry["note"] = "x"
    extra(canon(entry))
elif what == "type":
    entry["type"] = "settlement"
    extra(canon(entry))
elif what == "old-other":
    del lines[1]
    r["report"] = "0" * 64
r["proof"] = "\n".join(lines)
json.dump(r, open(sys.argv[2], "w"))
EOF
python3 mutate.py receipt.json receipt-hash.json hash
expect 1 "is not included" "$SH" verify --vkey k1.pem.vkey --checkpoint cp --entries ledger.jsonl \
	--receipt receipt-hash.json
expect 1 "is not included" "$SH" verify --vkey k1.pem.vkey --receipt receipt-hash.json
python3 mutate.py receipt.json receipt-time.json time
expect 1 "entry $R is not included" "$SH" verify --vkey k1.pem.vkey --receipt receipt-time.json
python3 mutate.py receipt.json receipt-spaced.json spaced
expect 1 "not a canonical entry" "$SH" verify --vkey k1.pem.vkey --receipt receipt-spaced.json
python3 mutate.py receipt.json receipt-sha.json sha
expect 1 "not to its sha256" "$SH" verify --vkey k1.pem.vkey --receipt receipt-sha.json
python3 mutate.py receipt.json receipt-member.json member
expect 1 'member "note"' "$SH" verify --vkey k1.pem.vkey --receipt receipt-member.json
python3 mutate.py receipt.json receipt-type.json type
expect 1 "not a report entry" "$SH" verify --vkey k1.pem.vkey --receipt receipt-type.json
sed 's/"report":"[0-9a-f]*"/"report":"'"$(printf %064d 0)"'"/' receipt.json >receipt-other.json
expect 1 "not of the receipt's report 0000" "$SH" verify --vkey k1.pem.vkey \
	--receipt receipt-other.json
# The receipt's "status" and "entries": checked against the replay with the
# entries; alone, only their form is, and the summary says what was not.
redo() {	# redo OUT KEY JSON: receipt.json with KEY set to JSON
	python3 -c 'import json, sys
r = json.load(open("receipt.json")); r[sys.argv[2]] = json.loads(sys.argv[3])
json.dump(r, open(sys.argv[1], "w"))' "$@"
}
NE=$(python3 -c 'import json; print(len(json.load(open("receipt.json"))["entries"]))')
[ "$NE" -ge 2 ] || fail "receipt of entry $R: want a report with entries after it"
grep -q '"status": *"settled"' receipt.json || fail "receipt of entry $R: not settled"
L=$((R + NE - 1))
expect 0 "receipt: status \"settled\" and entries $R..$L are what the replay gives" \
	"$SH" verify --vkey k1.pem.vkey --checkpoint cp --entries ledger.jsonl --receipt receipt.json
grep -qx 'receipt: "status" and "entries" not checked: that needs the ledger (--checkpoint and --entries)' out &&
	fail "with the entries, status and entries are checked"
expect 0 '"status" and "entries" not checked' "$SH" verify --vkey k1.pem.vkey --receipt receipt.json
redo r-waiting.json status '"waiting"'
expect 1 "r-waiting.json: status: \"waiting\", but the replay gives \"settled\"" "$SH" verify \
	--vkey k1.pem.vkey --checkpoint cp --entries ledger.jsonl --receipt r-waiting.json
expect 0 '"status" and "entries" not checked' "$SH" verify --vkey k1.pem.vkey --receipt r-waiting.json
redo r-short.json entries "[$R]"
expect 1 "r-short.json: entries: ends at $R, but the report caused entries $R..$L ($NE)" "$SH" verify \
	--vkey k1.pem.vkey --checkpoint cp --entries ledger.jsonl --receipt r-short.json
redo r-long.json entries "[$(seq -s, $R $((L + 1)))]"
expect 1 "r-long.json: entries\\[$NE\\]: $((L + 1)) is not an entry of the report; the replay gives entries $R..$L" \
	"$SH" verify --vkey k1.pem.vkey --checkpoint cp --entries ledger.jsonl --receipt r-long.json
# Their form, without the ledger: each bad one named by position and value.
while IFS='|' read -r key val want; do
	redo r-bad.json "$key" "$val"
	expect 1 "r-bad.json: $want" "$SH" verify --vkey k1.pem.vkey --receipt r-bad.json
done <<CASES
status|"done"|status: "done" is not a period's status (waiting, settled or disputed)
entries|[]|entries: empty; a receipt lists the report entry $R first
entries|[$((R + 1))]|entries\\[0\\]: $((R + 1)), not $R: a report's entries are its own ($R)
entries|[$R, $((R + 5))]|entries\\[1\\]: $((R + 5)), not $((R + 1))
entries|[$R, "x"]|entries\\[1\\]: "x" is not an entry index
entries|[$R, -1]|entries\\[1\\]: -1 is not an entry index
entries|[$R, $N]|entries\\[1\\]: $N is beyond the proof's checkpoint (size $N)
CASES

# A receipt whose proof does not carry the entry needs the entries.
python3 mutate.py receipt.json receipt-old.json noextra
expect 2 "needs --entries" "$SH" verify --vkey k1.pem.vkey --receipt receipt-old.json
expect 0 "is entry $R, included" "$SH" verify --vkey k1.pem.vkey --checkpoint cp \
	--entries ledger.jsonl --receipt receipt-old.json
python3 mutate.py receipt.json receipt-old-other.json old-other
expect 1 "entry $R: not the report 0000" "$SH" verify --vkey k1.pem.vkey --checkpoint cp \
	--entries ledger.jsonl --receipt receipt-old-other.json
# A receipt of another ledger (entry R with another time, signed at size
# R + 1): its entry is not entry R of these entries.
"$SH" fixture receipt --key k1.pem --origin $ORIGIN --index $R --size $((R + 1)) \
	retimed.jsonl >receipt-retimed.json
expect 0 "is entry $R, included" "$SH" verify --vkey k1.pem.vkey --receipt receipt-retimed.json
expect 1 "entry $R: not the entry that the receipt's proof carries" "$SH" verify \
	--vkey k1.pem.vkey --checkpoint cp --entries ledger.jsonl --receipt receipt-retimed.json

# Consistency between two checkpoints.
"$SH" fixture consistency --from $B ledger.jsonl >cons.json
expect 0 "consistent with the checkpoint of size $B" "$SH" verify --vkey k1.pem.vkey \
	--checkpoint cp --from cpB --proof cons.json --entries ledger.jsonl
[ "$I" -lt "$B" ] || fail "the changed entry $I should lie before $B"
sign --size $B changed.jsonl >cpBc
expect 1 "not an extension" "$SH" verify --vkey k1.pem.vkey --checkpoint cp \
	--from cpBc --proof cons.json
"$SH" fixture consistency --from $B changed.jsonl >consc.json
expect 1 "not an extension" "$SH" verify --vkey k1.pem.vkey --checkpoint cp \
	--from cpBc --proof consc.json
expect 1 "proves $B ->" "$SH" verify --vkey k1.pem.vkey --checkpoint cpB \
	--from cpB --proof cons.json

# Witnesses (SPEC 6.6): the quorum is required on the checkpoint under
# audit. A receipt alone is its checkpoint's, which the daemon signs before
# any witness sees it; against a witnessed --checkpoint, the receipt's
# checkpoint must be shown to be of the same ledger: same size and root, a
# consistency proof (--proof alone), or the entries.
WPY="python3 $TOP/tests/witness_client.py"
"$SH" keygen --witness --origin w1.example --out w1.key >/dev/null
"$SH" keygen --witness --origin w2.example --out w2.key >/dev/null
cat w1.key.vkey w2.key.vkey >ws.vkey
now=$(date +%s)
cosign() { $WPY forge "$2" "$3" "$1" "${4:-$((now - 10))}"; }	# NOTE KEY NAME [WHEN]
{ cat cp; cosign cp w1.key w1.example; cosign cp w2.key w2.example; } >cpw
{ cat cp; cosign cp w1.key w1.example; } >cpw1
expect 1 "carries no cosignature by the given witnesses: a receipt is signed before" \
	"$SH" verify --vkey k1.pem.vkey --receipt receipt.json --witness ws.vkey
expect 0 "cosigned by 2 witness(es), quorum 2" "$SH" verify --vkey k1.pem.vkey \
	--checkpoint cpw --receipt receipt.json --witness ws.vkey
grep -q "is entry $R, included" out || fail "$(cat out)"
expect 1 "cosigned by 1 of the given witnesses, the quorum is 2" "$SH" verify \
	--vkey k1.pem.vkey --checkpoint cpw1 --receipt receipt.json --witness ws.vkey
# A receipt against the older checkpoint of size B (report R's entries lie
# before it), and the consistency proof from B (cons.json).
"$SH" fixture receipt --key k1.pem --origin $ORIGIN --index $R --size $B \
	ledger.jsonl >receipt-B.json
expect 1 "size $B) is not the witnessed one (size $N) and nothing shows" \
	"$SH" verify --vkey k1.pem.vkey --checkpoint cpw --receipt receipt-B.json \
	--witness ws.vkey
expect 0 "its checkpoint (size $B) is consistent with the checkpoint of size $N" \
	"$SH" verify --vkey k1.pem.vkey --checkpoint cpw --receipt receipt-B.json \
	--witness ws.vkey --proof cons.json
grep -q "cosigned by 2 witness(es), quorum 2" out || fail "$(cat out)"
expect 0 "status \"[a-z]*\" and entries $R\.\." "$SH" verify --vkey k1.pem.vkey \
	--checkpoint cpw --receipt receipt-B.json --witness ws.vkey --entries ledger.jsonl
"$SH" fixture consistency --from $((B - 1)) ledger.jsonl >consB1.json
expect 1 "proves $((B - 1)) -> $N, but the checkpoints are of sizes $B and $N" \
	"$SH" verify --vkey k1.pem.vkey --checkpoint cpw --receipt receipt-B.json \
	--witness ws.vkey --proof consB1.json
python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
h = p["hashes"][0]
p["hashes"][0] = ("A" if h[0] != "A" else "B") + h[1:]
json.dump(p, open(sys.argv[2], "w"))' cons.json cons-bad.json
expect 1 "not an extension" "$SH" verify --vkey k1.pem.vkey --checkpoint cpw \
	--receipt receipt-B.json --witness ws.vkey --proof cons-bad.json
{ cat cpB; cosign cpB w1.key w1.example; cosign cpB w2.key w2.example; } >cpBw
expect 1 "newer than the one under audit (size $B); audit a newer one (the witnessed" \
	"$SH" verify --vkey k1.pem.vkey --checkpoint cpBw --receipt receipt.json --witness ws.vkey
# A receipt whose proof's checkpoint carries cosignatures verifies alone.
cosign_receipt() {	# RECEIPT OUT WHEN...: the cosignatures dated WHEN added
	in=$1 out=$2; shift 2
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["proof"], end="")' \
		"$in" | sed '1,/^$/d' >rcp
	for when in "$@"; do cosign rcp w1.key w1.example "$when"; done >rlines
	cosign rcp w2.key w2.example >>rlines
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
r["proof"] += open(sys.argv[2]).read()
json.dump(r, open(sys.argv[3], "w"))' "$in" rlines "$out"
}
cosign_receipt receipt-B.json receipt-w.json $((now - 10))
expect 0 "the receipt's checkpoint: cosigned by 2 witness(es), quorum 2" "$SH" verify \
	--vkey k1.pem.vkey --receipt receipt-w.json --witness ws.vkey
"$SH" keygen --witness --origin w3.example --out w3.key >/dev/null
expect 1 "cosigned by 2 of the given witnesses, the quorum is 3" "$SH" verify \
	--vkey k1.pem.vkey --receipt receipt-w.json --witness ws.vkey --witness w3.key.vkey
cosign_receipt receipt-B.json receipt-wf.json $((now + 3600))
expect 1 "receipt-wf.json: its checkpoint (size $B): .*in the future" "$SH" verify \
	--vkey k1.pem.vkey --receipt receipt-wf.json --witness ws.vkey
expect 2 usage "$SH" verify --vkey k1.pem.vkey --checkpoint cp --proof consR.json
expect 2 usage "$SH" verify --vkey k1.pem.vkey --receipt receipt-B.json --proof consR.json
expect 2 usage "$SH" verify --vkey k1.pem.vkey --witness ws.vkey

# Usage and I/O errors exit 2.
expect 2 usage "$SH" verify --checkpoint cp
expect 2 "nope" "$SH" verify --vkey k1.pem.vkey --checkpoint nope
expect 2 "verifier key" sh -c "echo bad+00000000+AAAA >bad.vkey; '$SH' verify --vkey bad.vkey --checkpoint cp"
echo "verify: all checks passed"
