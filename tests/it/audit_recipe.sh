#!/bin/sh
# Runs the auditor's recipe of doc/AUDIT.md (its ```sh blocks, verbatim) on
# a ledger built and signed without the daemon: it must accept the real
# checkpoint and entries, and refuse a changed entry, a changed checkpoint
# and a checkpoint signed by another key.
set -eu
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
SH=$TOP/$BUILD/shanhai
W=${TMPDIR:-/tmp}/audit.$$
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
cd "$W"
ORIGIN=audit.example/shanhai

fail() { echo "FAIL: $*"; exit 1; }

# The recipe, exactly as the document shows it.
awk '/^```sh$/ { on = 1; next } /^```$/ { on = 0 } on' "$TOP/doc/AUDIT.md" >recipe.sh
[ "$(grep -c openssl recipe.sh)" -ge 1 ] || fail "no recipe found in doc/AUDIT.md"

"$SH" keygen --origin $ORIGIN --out ledger.key >/dev/null
"$SH" keygen --origin $ORIGIN --out other.key >/dev/null
"$SH" keygen --origin $ORIGIN --out sm2.key --sm2 >/dev/null
c=$TOP/tests/cases/example-kecheng-yuhang-2026
"$SH" fixture build --rules "$c/rules" --time 2026-11-27T10:00:00Z \
	"$c/reports.jsonl" >entries.jsonl
SIZE=$(wc -l <entries.jsonl)
# The checkpoint carries an SM2 co-signature too: the recipe must skip it.
"$SH" fixture sign --key ledger.key --key sm2.key --origin $ORIGIN entries.jsonl >checkpoint

# run N CHECKPOINT ENTRIES: the recipe in a fresh folder; its exit status.
run() {
	rm -rf r && mkdir r
	"$SH" fixture inclusion --index "$1" entries.jsonl >r/proof.json
	(cd r && VKEY=$(cat ../ledger.key.vkey) CHECKPOINT=../$2 ENTRIES=../$3 \
	    N=$1 PROOF=proof.json sh ../recipe.sh) >r.out 2>&1
}

for n in 0 1 $((SIZE / 2)) $((SIZE - 2)) $((SIZE - 1)); do
	run $n checkpoint entries.jsonl || { cat r.out; fail "entry $n refused"; }
	grep -q "Signature Verified Successfully" r.out || fail "openssl did not verify"
	grep -q "entry $n is in the signed tree of size $SIZE" r.out || { cat r.out; fail "entry $n"; }
done
# The recipe's leaf hash is the one shanhai computes (via the receipt path).
"$SH" verify --vkey ledger.key.vkey --checkpoint checkpoint --entries entries.jsonl >/dev/null

# A changed entry is not in the signed tree.
L=$(grep -n '"period":"2026-0' entries.jsonl | head -1 | cut -d: -f1)
sed "${L}s/\"period\":\"2026-0/\"period\":\"2027-0/" entries.jsonl >changed.jsonl
cmp -s changed.jsonl entries.jsonl && fail "the change did not apply"
if run $((L - 1)) checkpoint changed.jsonl; then cat r.out; fail "changed entry accepted"; fi
grep -q "entry $((L - 1)) is NOT in the signed tree" r.out || { cat r.out; fail "changed entry: wrong reason"; }

# A changed checkpoint (another root) fails openssl's check.
sed "3s/^./$(sed -n 3p checkpoint | cut -c1 | tr 'A-Za-z0-9' 'B-Za-z0-9A')/" checkpoint >cp-changed
cmp -s cp-changed checkpoint && fail "the checkpoint change did not apply"
if run 2 cp-changed entries.jsonl; then cat r.out; fail "changed checkpoint accepted"; fi
grep -q "Signature Verification Failure" r.out || { cat r.out; fail "changed checkpoint: wrong reason"; }

# Signed by another key of the same name: no signature by this key.
"$SH" fixture sign --key other.key --origin $ORIGIN entries.jsonl >cp-other
if run 2 cp-other entries.jsonl; then cat r.out; fail "other key accepted"; fi
grep -q "no signature by this key" r.out || { cat r.out; fail "other key: wrong reason"; }

# The SM2 co-signature checks with openssl too (SM3, ID 1234567812345678).
V=$(cat sm2.key.vkey)
R=${V#*+}
ID=${R%%+*}
printf '%s' "${R#*+}" | base64 -d | tail -c 65 >sm2.point
{ echo 3059301306072a8648ce3d020106082a811ccf5501822d034200; xxd -p -c 65 sm2.point; } |
	xxd -r -p >sm2.der
head -n 3 checkpoint >body
ok=no
for s in $(grep "^— $ORIGIN " checkpoint | cut -d' ' -f3); do
	printf '%s' "$s" | base64 -d >s.bin
	[ "$(head -c 4 s.bin | xxd -p)" = "$ID" ] || continue
	tail -c +5 s.bin >s.raw
	openssl pkeyutl -verify -pubin -inkey sm2.der -keyform DER -rawin -digest sm3 \
	    -pkeyopt distid:1234567812345678 -in body -sigfile s.raw >/dev/null && ok=yes
done
[ "$ok" = yes ] || fail "SM2 co-signature does not verify with openssl"
echo "audit recipe: all checks passed"
