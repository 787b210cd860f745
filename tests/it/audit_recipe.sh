#!/bin/sh
# Runs the auditor's recipes of doc/AUDIT.md (its ```sh blocks, verbatim,
# in dash): against a running shanhaid that co-signs with SM2, fetching the
# checkpoint and the entries in pages as an auditor, checking both
# signatures, an entry's inclusion and the receipts the bureau got; and on
# ledgers signed without the daemon, where they must refuse a changed entry,
# a changed checkpoint, a checkpoint signed by another key and a changed
# receipt. An edited recipe that stops working fails here.
. "$TOP/tests/itlib.sh"
SH=$BUILD/shanhai
W=$T/audit
mkdir -p "$W"
ORIGIN=audit.example/shanhai
DOC=$TOP/doc/AUDIT.md

# recipe N...: the sh blocks numbered N... (from 0) of AUDIT.md, in order.
recipe() {
	for rn in "$@"; do
		awk -v want="$rn" '/^```sh$/ { on = 1; k++; next }
		    /^```$/ { on = 0 } on && k - 1 == want' "$DOC"
	done
}
[ "$(awk '/^```sh$/' "$DOC" | wc -l)" -eq 6 ] ||
	fail "AUDIT.md: want 6 recipes (fetch, signature, leaf, inclusion, receipt, SM2)"
for n in 0 1 2 3 4 5; do
	[ -s "$W/r$n" ] || recipe $n >"$W/r$n"
	[ -s "$W/r$n" ] || fail "AUDIT.md: recipe $n is empty"
done
grep -q '/v1/ledger/entries' "$W/r0" || fail "recipe 0 does not fetch the entries"
grep -q 'pkeyutl' "$W/r1" || fail "recipe 1 does not check a signature"
grep -q 'RECEIPT' "$W/r4" || fail "recipe 4 does not read a receipt"
grep -q 'sm3' "$W/r5" || fail "recipe 5 does not check SM2"

# runin DIR BLOCKS VAR=VALUE...: the blocks run by dash in a fresh DIR under
# $W, with the variables; output in $W/out, the exit status returned.
runin() {
	rd=$W/$1 rb=$2; shift 2
	rm -rf "$rd" && mkdir -p "$rd"
	recipe $rb >"$rd/recipe.sh"
	(cd "$rd" && env "$@" dash ./recipe.sh) >"$W/out" 2>&1
}
must() { grep -q "$1" "$W/out" || { cat "$W/out"; fail "$2"; }; }

# ---- Against a running daemon: the operator's side.
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
d=$T/etc
"$SH" keygen --origin test.example/shanhai --out "$d/sm2.key" --sm2 >/dev/null
sed -i 's|signing_key = "ledger.key";|& sm2_key = "sm2.key";|' "$c"
start_daemon "$c"
base=https://127.0.0.1:$port
k=0
while IFS= read -r line; do
	k=$((k + 1))
	[ $k -le 9 ] || break
	printf '%s\n' "$line" >"$W/report$k.json"
	curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/yuhang.crt" \
	    --key "$T/pki/yuhang.key" -H 'Content-Type: application/json' \
	    --data-binary @"$W/report$k.json" -o "$W/receipt$k.json" \
	    "$base/v1/reports" || fail "report $k refused"
done <"$TOP/tests/cases/example-kecheng-yuhang-2026/reports.jsonl"

# The auditor fetches in pages of 4 (the last one partial), checks the
# checkpoint's two signatures and entry 6's inclusion.
A="URL=$base CERT=$T/pki/auditor.crt KEY=$T/pki/auditor.key CACERT=$T/pki/ca.crt"
VK="VKEY=$(cat "$d/ledger.key.vkey")"
SVK="SM2VKEY=$(cat "$d/sm2.key.vkey")"
# shellcheck disable=SC2086
runin live "0 1 2 3 5" $A "$VK" "$SVK" N=6 PAGE=4 ||
	{ cat "$W/out"; fail "the recipes refuse the daemon's ledger"; }
SIZE=$(sed -n 2p "$W/live/checkpoint")
[ "$SIZE" -gt 8 ] && [ $((SIZE % 4)) -ne 0 ] || fail "size $SIZE: want several pages, the last partial"
must "fetched: checkpoint of size $SIZE, $SIZE entries" "no fetch"
[ "$(grep -c 'Signature Verified Successfully' "$W/out")" -eq 2 ] ||
	{ cat "$W/out"; fail "want two signatures verified (Ed25519, SM2)"; }
must "entry 6 is in the signed tree of size $SIZE" "entry 6"
must "checkpoint: SM2 signature by" "SM2"
# The pages together are the ledger, byte for byte, as shanhai verify sees it.
"$SH" verify --vkey "$d/ledger.key.vkey" --checkpoint "$W/live/checkpoint" \
    --entries "$W/live/entries.jsonl" >/dev/null || fail "the fetched ledger does not verify"
curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" --key "$T/pki/auditor.key" \
    "$base/v1/ledger/entries?start=0&end=$SIZE" | cmp -s - "$W/live/entries.jsonl" ||
	fail "the pages differ from the whole ledger in one request"

# Every receipt the bureau got checks by hand: recipe 4, then 1 and 3.
for i in 1 5 9; do
	runin "rc$i" "4 1 3" "$VK" RECEIPT="$W/receipt$i.json" ||
		{ cat "$W/out"; fail "receipt $i refused"; }
	n=$(sed 's/.*"index":\([0-9]*\).*/\1/' "$W/receipt$i.json")
	must "entry $n is in the signed tree" "receipt $i: entry $n"
	must "Signature Verified Successfully" "receipt $i: signature"
done
# A receipt naming another report, or whose proof is changed, is refused.
sed 's/"report":"[0-9a-f]*"/"report":"'"$(printf %064d 0)"'"/' "$W/receipt5.json" >"$W/rc-other.json"
if runin rco "4 1 3" "$VK" RECEIPT="$W/rc-other.json"; then cat "$W/out"; fail "other report accepted"; fi
must "not the entry of report 0000" "other report: wrong reason"
python3 - "$W/receipt5.json" "$W/rc-hash.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
lines = r["proof"].split("\n")
assert lines[3] and lines[3][0] != "~"
lines[3] = ("B" if lines[3][0] == "A" else "A") + lines[3][1:]
r["proof"] = "\n".join(lines)
json.dump(r, open(sys.argv[2], "w"))
EOF
if runin rch "4 1 3" "$VK" RECEIPT="$W/rc-hash.json"; then cat "$W/out"; fail "changed proof accepted"; fi
must "is NOT in the signed tree" "changed proof: wrong reason"

# ---- Ledgers signed without the daemon: the refusals.
cd "$W"
"$SH" keygen --origin $ORIGIN --out ledger.key >/dev/null
"$SH" keygen --origin $ORIGIN --out other.key >/dev/null
"$SH" keygen --origin $ORIGIN --out sm2.key --sm2 >/dev/null
"$SH" keygen --origin $ORIGIN --out sm2b.key --sm2 >/dev/null
cs=$TOP/tests/cases/example-kecheng-yuhang-2026
"$SH" fixture build --rules "$cs/rules" --time 2026-11-27T10:00:00Z \
	"$cs/reports.jsonl" >entries.jsonl
SIZE=$(wc -l <entries.jsonl)
# The checkpoint carries an SM2 co-signature too: recipe 1 must skip it.
"$SH" fixture sign --key ledger.key --key sm2.key --origin $ORIGIN entries.jsonl >checkpoint
VK="VKEY=$(cat ledger.key.vkey)"

# entry N CHECKPOINT ENTRIES: recipes 1 to 3; their exit status.
entry() {
	"$SH" fixture inclusion --index "$1" entries.jsonl >proof.json
	runin e "1 2 3" "$VK" CHECKPOINT="$W/$2" ENTRIES="$W/$3" N="$1" PROOF="$W/proof.json"
}
for n in 0 1 $((SIZE / 2)) $((SIZE - 2)) $((SIZE - 1)); do
	entry $n checkpoint entries.jsonl || { cat out; fail "entry $n refused"; }
	must "Signature Verified Successfully" "openssl did not verify"
	must "entry $n is in the signed tree of size $SIZE" "entry $n"
done

# A changed entry is not in the signed tree.
L=$(grep -n '"period":"2026-0' entries.jsonl | head -1 | cut -d: -f1)
sed "${L}s/\"period\":\"2026-0/\"period\":\"2027-0/" entries.jsonl >changed.jsonl
cmp -s changed.jsonl entries.jsonl && fail "the change did not apply"
if entry $((L - 1)) checkpoint changed.jsonl; then cat out; fail "changed entry accepted"; fi
must "entry $((L - 1)) is NOT in the signed tree" "changed entry: wrong reason"

# A changed checkpoint (another root) fails openssl's check.
sed "3s/^./$(sed -n 3p checkpoint | cut -c1 | tr 'A-Za-z0-9' 'B-Za-z0-9A')/" checkpoint >cp-changed
cmp -s cp-changed checkpoint && fail "the checkpoint change did not apply"
if entry 2 cp-changed entries.jsonl; then cat out; fail "changed checkpoint accepted"; fi
must "Signature Verification Failure" "changed checkpoint: wrong reason"

# Signed by another key of the same name: no signature by this key.
"$SH" fixture sign --key other.key --origin $ORIGIN entries.jsonl >cp-other
if entry 2 cp-other entries.jsonl; then cat out; fail "other key accepted"; fi
must "no signature by this key" "other key: wrong reason"

# The SM2 recipe: the co-signature verifies; another SM2 key finds none;
# a checkpoint without the SM2 line is refused.
sm2() { runin s "1 5" "$VK" SM2VKEY="$(cat "$1")" CHECKPOINT="$W/$2"; }
sm2 sm2.key.vkey checkpoint || { cat out; fail "SM2 co-signature refused"; }
must "checkpoint: SM2 signature by" "SM2"
if sm2 sm2b.key.vkey checkpoint; then cat out; fail "another SM2 key accepted"; fi
must "no SM2 signature by this key" "other SM2 key: wrong reason"
"$SH" fixture sign --key ledger.key --origin $ORIGIN entries.jsonl >cp-ed
if sm2 sm2.key.vkey cp-ed; then cat out; fail "no SM2 line accepted"; fi
must "no SM2 signature by this key" "no SM2 line: wrong reason"
echo "audit recipe: all checks passed"
