#!/bin/sh
# shanhai backup (SPEC 6.7): a copy of the live database taken while
# reports keep arriving, verified (integrity, and its own tree gives its
# checkpoint's root); shanhaid started on the copy serves that checkpoint
# and the entries the running daemon has up to it, byte for byte, and
# they verify. A backup never overwrites a file.
. "$TOP/tests/itlib.sh"
SH=$BUILD/shanhai
pki
port=$(free_port)
d=$T/etc
c=$d/shanhaid.conf
write_config "$c" "$port"
start_daemon "$c"
base=https://127.0.0.1:$port
grep -h . "$TOP"/tests/cases/example-*/reports.jsonl >"$T/reports.jsonl"
submit() {	# FROM TO
	sed -n "$1,$2p" "$T/reports.jsonl" | while IFS= read -r line; do
		printf '%s\n' "$line" >"$T/r$1.json"
		b=$(bureau_of "$T/r$1.json")
		code=$(as "$b" "$base/v1/reports" -H "Content-Type: application/json" \
		    --data-binary @"$T/r$1.json" | tail -1)
		[ "$code" = 201 ] || fail "report: $code: $line"
	done
}
get() {	# BASE PATH FILE
	curl -s -f --cacert "$T/pki/ca.crt" --cert "$T/pki/auditor.crt" \
	    --key "$T/pki/auditor.key" -o "$3" "$1$2" || fail "GET $1$2"
}
submit 1 10
# Reports keep coming while the backup is taken.
n=$(wc -l <"$T/reports.jsonl")
submit 11 "$n" &
bg=$!
"$SH" backup -c "$c" --to "$T/copy.db" >"$T/backup.out" 2>&1 || fail "backup: $(cat "$T/backup.out")"
wait "$bg" || fail "reports during the backup"
grep -q "integrity and tree verified" "$T/backup.out" || fail "$(cat "$T/backup.out")"
[ "$(stat -c %a "$T/copy.db")" = 600 ] || fail "backup mode $(stat -c %a "$T/copy.db")"
bsize=$(sed -n 's/.*checkpoint of size \([0-9]*\) .*/\1/p' "$T/backup.out")
[ -n "$bsize" ] && [ "$bsize" -ge 1 ] || fail "$(cat "$T/backup.out")"

# Never over a file; a file that is no ledger is refused.
set +e
"$SH" backup -c "$c" --to "$T/copy.db" >"$T/again.out" 2>&1; rc=$?
set -e
[ $rc = 2 ] && grep -q "File exists" "$T/again.out" || fail "overwrote: $rc $(cat "$T/again.out")"

# A second daemon on the copy: the same checkpoint and entries, and on.
port2=$(free_port)
mkdir -p "$T/two"
cp -p "$d/ledger.key" "$d/ledger.key.vkey" "$T/two/"
c2=$T/two/shanhaid.conf
write_config "$c2" "$port2"
d=$T/etc	# write_config set it to its own folder
cp "$T/copy.db" "$T/two/state/shanhai.db"
start_daemon "$c2"
base2=https://127.0.0.1:$port2
get "$base2" /v1/ledger/checkpoint "$T/cp2"
[ "$(sed -n 2p "$T/cp2")" = "$bsize" ] || fail "the copy serves size $(sed -n 2p "$T/cp2"), not $bsize"
get "$base" "/v1/ledger/entries?start=0&end=$bsize" "$T/e1"
get "$base2" "/v1/ledger/entries?start=0&end=$bsize" "$T/e2"
cmp -s "$T/e1" "$T/e2" || fail "the copy's entries differ"
"$SH" verify --vkey "$d/ledger.key.vkey" --checkpoint "$T/cp2" --entries "$T/e2" >"$T/v.out" ||
	fail "verify the copy: $(cat "$T/v.out")"
echo "backup: ok (copy of size $bsize taken under load)"
