#!/bin/sh
# The daemon's engine pages closed years out to an unlinked file beside the
# database (doc/DESIGN.md, Engine). Reports over three years close two of
# them; corrections, resubmissions, a reused id and period queries reach
# into the paged years, before and after a SIGKILL and restart (which
# rebuilds the engine and its page file from the ledger). The ledger must
# hold exactly the entries `shanhai settle --pager memory` gives for the
# accepted reports, and verify.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
start_daemon "$c"
# Under tcmalloc, the daemon has it return freed spans at once (the page
# heap's free spans were the largest part of what grew with the history:
# doc/DESIGN.md, What still grows with history); a sanitizer build has no
# tcmalloc, and says nothing.
if ldd "$BUILD/shanhaid" | grep -q libtcmalloc; then
	grep -q 'allocator: tcmalloc, freed spans returned at once: yes' \
	    "$T/daemon.log" || fail "tcmalloc's decommit not set"
elif grep -q 'allocator:' "$T/daemon.log"; then
	fail "an allocator line without tcmalloc"
fi
base=https://127.0.0.1:$port
: >"$T/accepted.jsonl"

# post FILE WANT: submits as Yuhang's bureau, expects status WANT; keeps
# the accepted ones (201) in order for the offline settlement.
post() {
	code=$(curl -s -o "$T/post.out" -w '%{http_code}' --cacert "$T/pki/ca.crt" \
	    --cert "$T/pki/yuhang.crt" --key "$T/pki/yuhang.key" \
	    -H 'Content-Type: application/json' --data-binary @"$1" "$base/v1/reports")
	[ "$code" = "$2" ] || fail "$(cat "$1"): $code, want $2: $(cat "$T/post.out")"
	if [ "$code" = 201 ]; then
		cat "$1" >>"$T/accepted.jsonl"
		echo >>"$T/accepted.jsonl"
	fi
}
# rep NAME ID PERIOD VAT [SUPERSEDES]: writes report NAME.json.
rep() {
	python3 - "$T/$1.json" "$2" "$3" "$4" "${5:-}" <<'EOF'
import json, sys
f, rid, per, vat, sup = sys.argv[1:]
r = {"report_id": rid, "agreement": "kecheng-yuhang", "period": per,
     "role": "host", "taxes": {"vat": vat, "cit": "1234.56"},
     "statistics": {"gdp": "99.99"}}
if sup:
    r["supersedes"] = sup
open(f, "w").write(json.dumps(r))
EOF
}
period() {
	curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" \
	    --key "$T/pki/auditor.key" "$base/v1/agreements/kecheng-yuhang/periods/$1" ||
	    fail "period $1"
}

# 2017-07 .. 2019-03: 2017 and 2018 close.
for k in $(seq 0 20); do
	y=$((2017 + (k + 6) / 12)) m=$(((k + 6) % 12 + 1))
	p=$(printf '%d-%02d' $y $m)
	rep "r$k" "ky-$p" "$p" "$((100000 + k * 1000)).$((k % 100))"
	post "$T/r$k.json" 201
done
# The page file: unlinked, beside the database, and written to.
pf=$(ls -l /proc/$DPID/fd | sed -n 's/.* -> \(.*shanhai-pages\.[^ ]*\) (deleted)$/\1/p')
[ -n "$pf" ] || fail "no page file open: $(ls -l /proc/$DPID/fd)"
case $pf in "$T/etc/state/"*) ;; *) fail "page file $pf not in state_dir" ;; esac
fd=$(ls -l /proc/$DPID/fd | sed -n 's/.* \([0-9]*\) -> .*shanhai-pages.*/\1/p')
[ "$(stat -L -c %s /proc/$DPID/fd/$fd)" -gt 0 ] || fail "nothing paged out"

before=$(period 2018-05)
rep c1 ky-2018-05-r1 2018-05 777777.77 ky-2018-05
post "$T/c1.json" 201
after=$(period 2018-05)
[ "$before" != "$after" ] || fail "the correction of 2018-05 changed nothing"
echo "$after" | grep -q '"status":"settled"' || fail "2018-05: $after"
post "$T/r3.json" 200					# 2017-10, paged out
rep x1 ky-2017-09 2019-04 1.00				# an id of a paged year
post "$T/x1.json" 409
rep x2 ky-2018-02-again 2018-02 1.00			# no supersedes
post "$T/x2.json" 409

kill -9 "$DPID"
wait "$DPID" 2>/dev/null || true
start_daemon "$c"
wait_log 'engine: 1 fiscal years in memory, 2 paged out to a page file'
[ "$(period 2018-05)" = "$after" ] || fail "2018-05 after the restart: $(period 2018-05)"
post "$T/c1.json" 200
rep c2 ky-2017-12-r1 2017-12 5.00 ky-2017-12
post "$T/c2.json" 201
rep c3 ky-2018-05-r2 2018-05 1.00 ky-2018-05
post "$T/c3.json" 409					# not the latest any more
rep c4 ky-2018-05-r2 2018-05 1.00 ky-2018-05-r1
post "$T/c4.json" 201
rep r21 ky-2019-04 2019-04 1000.00
post "$T/r21.json" 201

# The ledger: exactly the offline settlement of the accepted reports.
curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" --key "$T/pki/auditor.key" \
    -o "$T/checkpoint" "$base/v1/ledger/checkpoint" || fail "checkpoint"
size=$(sed -n 2p "$T/checkpoint")
curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" --key "$T/pki/auditor.key" \
    -o "$T/entries.jsonl" "$base/v1/ledger/entries?start=0&end=$size" || fail "entries"
"$BUILD/shanhai" verify --vkey "$T/etc/ledger.key.vkey" --checkpoint "$T/checkpoint" \
    --entries "$T/entries.jsonl" >"$T/verify.out" 2>&1 || fail "verify: $(cat "$T/verify.out")"
mkdir -p "$T/offline"
cp "$T/etc/rules/kecheng-yuhang.conf" "$T/offline/"
"$BUILD/shanhai" settle --rules "$T/offline" --pager memory "$T/accepted.jsonl" \
    >"$T/offline.jsonl" || fail "shanhai settle"
python3 - "$T/entries.jsonl" "$T/offline.jsonl" <<'EOF' || fail "the ledger differs from the offline settlement"
import json, sys
got = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["type"] == "rules" or e.get("agreement", e.get("report", {}).get("agreement")) != "kecheng-yuhang":
        continue
    e.pop("time", None)
    e.pop("submitter", None)
    got.append(json.dumps(e, sort_keys=True, separators=(",", ":")))
want = [json.dumps(json.loads(l), sort_keys=True, separators=(",", ":"))
        for l in open(sys.argv[2])]
assert got == want, (len(got), len(want),
                     next((i, a, b) for i, (a, b) in enumerate(zip(got, want)) if a != b)
                     if any(a != b for a, b in zip(got, want)) else "length")
print("paged_restart: %d entries as settled offline" % len(got))
EOF
