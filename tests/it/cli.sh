#!/bin/sh
# Issue 18, smaller things, against a running daemon: one exit-status rule
# for every verb (a 4xx refusal is 1, no answer is 2), `status --format
# json` sizes as numbers, singular nouns for one, a quiet stop when the
# reader of stdout goes away (| head), "a bureau", and an identical
# resubmission's receipt with the period's status now beside it.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
# One agreement: "1 agreement", not "1 agreements".
rm "$T/etc/rules/kecheng-yuhang.conf" "$T/etc/rules/qujiang-yinzhou.conf" \
    "$T/etc/rules/kaihua-tongxiang.conf"
start_daemon "$c"
url=https://127.0.0.1:$port
grep -q "serving on 127.0.0.1:$port: 1 agreement, 10 clients$" "$T/daemon.log" ||
    fail "no singular in the serving line"
grep -q 'journal: .*: 0 entries, checkpoint 0$' "$T/daemon.log" || fail "no '0 entries'"

SH=$BUILD/shanhai
tls() {	# the client options of NAME
	echo "--url $url --cert $T/pki/$1.crt --key $T/pki/$1.key --cacert $T/pki/ca.crt"
}
code() {	# code EXPECTED CMD…: runs CMD, its exit status must be EXPECTED
	want=$1; shift
	rc=0; "$@" > "$T/out" 2> "$T/err" || rc=$?
	[ "$rc" = "$want" ] || fail "$* exited $rc, not $want: $(cat "$T/err")"
}

# The ledger holds the rules entry: one entry, said so.
out=$(as auditor "$url/v1/ledger/entries?start=0&end=5")
printf '%s\n' "$out" | grep -q "beyond the ledger's 1 entry\"" || fail "entries plural: $out"
# A bureau where only auditors and operators go: "a bureau", 403.
out=$(as xiaoshan "$url/v1/ledger/entries?start=0&end=1")
printf '%s\n' "$out" | grep -q "client 'xiaoshan-finance' is a bureau; GET " ||
    fail "article: $out"

# Exit statuses, one rule: 403 from the server is a refusal, 1, for status
# as for submit; no answer at all is 2.
code 1 "$SH" status $(tls xiaoshan)
grep -q '403' "$T/err" || fail "status did not say 403: $(cat "$T/err")"
code 1 "$SH" statement --agreement longquan-xiaoshan --year 2026 $(tls xiaoshan)
code 2 "$SH" status --url "https://127.0.0.1:1" --cert "$T/pki/operator.crt" \
    --key "$T/pki/operator.key" --cacert "$T/pki/ca.crt"
code 2 "$SH" status
sed -n 1p "$TOP/tests/cases/example-longquan-xiaoshan-2026/reports.jsonl" > "$T/host.json"
sed -n 2p "$TOP/tests/cases/example-longquan-xiaoshan-2026/reports.jsonl" > "$T/home.json"
code 1 "$SH" submit $(tls longquan) --out "$T/r0" "$T/host.json"

# The host's report waits for the home side's copy (confirm = true).
code 0 "$SH" submit $(tls xiaoshan) --out "$T/r1" "$T/host.json"
grep -q '"status":"waiting"' "$T/r1" || fail "first receipt: $(cat "$T/r1")"
code 0 "$SH" submit $(tls longquan) --out "$T/r2" "$T/home.json"
grep -q '"status":"settled"' "$T/r2" || fail "home receipt: $(cat "$T/r2")"
# The same report again: the first receipt, byte for byte, and beside it
# the period's status now.
curl -s -D "$T/h" -o "$T/r3" --cacert "$T/pki/ca.crt" --cert "$T/pki/xiaoshan.crt" \
    --key "$T/pki/xiaoshan.key" -H 'Content-Type: application/json' \
    --data-binary @"$T/host.json" "$url/v1/reports"
head -1 "$T/h" | grep -q ' 200' || fail "resubmission: $(cat "$T/h")"
cmp -s "$T/r1" "$T/r3" || fail "resubmission's receipt differs: $(cat "$T/r3")"
tr -d '\r' < "$T/h" | grep -qix 'Shanhai-Current-Status: settled' ||
    fail "no current status: $(cat "$T/h")"
code 0 "$SH" submit $(tls xiaoshan) --out "$T/r4" "$T/host.json"
cmp -s "$T/r1" "$T/r4" || fail "submit saved another receipt"
grep -q 'already accepted (200)' "$T/err" || fail "submit: $(cat "$T/err")"
grep -q 'the period is now settled' "$T/err" || fail "submit did not say the status now: $(cat "$T/err")"

# A rules change that would alter a settled period: the reload is refused,
# and the log names the agreement once.
sed -i 's#{ from = "2026-Q1"; home = "1/2"; }#{ from = "2026-Q1"; home = "1/3"; }#' \
    "$T/etc/rules/longquan-xiaoshan.conf"
grep -q 'home = "1/3"' "$T/etc/rules/longquan-xiaoshan.conf" || fail "rules not edited"
hup
grep -q 'reload refused: .*longquan-xiaoshan: term 2026-Q1' "$T/daemon.log" ||
    fail "no refusal naming the term"
if grep -q 'longquan-xiaoshan: longquan-xiaoshan:' "$T/daemon.log"; then
	fail "the agreement named twice: $(grep 'longquan-xiaoshan: longquan' "$T/daemon.log")"
fi

# status --format json: sizes are numbers.
code 0 "$SH" status $(tls operator) --format json
python3 - "$T/out" <<'EOF' || fail "status json: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert type(d["checkpoint"]["size"]) is int and d["checkpoint"]["size"] == 4, d["checkpoint"]
assert type(d["ledger_entries"]) is int, d
EOF
code 0 "$SH" status $(tls operator)
grep -q '^  ledger: 4 entries; ' "$T/out" || fail "status text: $(cat "$T/out")"

# A reader that goes away (| head): no "Broken pipe", exit 0. The reader
# closes its end before the verb writes, so the write surely fails.
gone() {	# gone NAME CMD…: CMD's stdout has no reader left
	n=$1; shift
	( sleep 0.3; "$@" 2> "$T/$n.err"; echo $? > "$T/$n.rc" ) |
	    { exec 0<&-; sleep 0.6; }
	[ ! -s "$T/$n.err" ] || fail "$n | head printed: $(cat "$T/$n.err")"
	[ "$(cat "$T/$n.rc")" = 0 ] || fail "$n | head exited $(cat "$T/$n.rc")"
}
cases=$TOP/tests/cases/example-longquan-xiaoshan-2026
"$SH" settle --rules "$T/etc/rules" "$cases/reports.jsonl" > "$T/entries.jsonl"
gone settle "$SH" settle --rules "$T/etc/rules" "$cases/reports.jsonl"
gone statement "$SH" statement --agreement longquan-xiaoshan --year 2026 \
    --entries "$T/entries.jsonl" --rules "$T/etc/rules"
gone status "$SH" status $(tls operator)

# One parser of the client options for every verb that talks to the
# daemon: each problem is a usage error (2) whose message names the option.
said() {	# said VERB TEXT: stderr of the last run names the option
	grep -qF -- "shanhai $1: $2" "$T/err" ||
	    fail "$1 did not say '$2': $(cat "$T/err")"
}
crt=$T/pki/xiaoshan.crt; k=$T/pki/xiaoshan.key; ca=$T/pki/ca.crt
for v in submit approve status statement; do
	case $v in
	submit)		more="$T/host.json" ;;
	approve|statement) more="--agreement longquan-xiaoshan --year 2026" ;;
	status)		more="" ;;
	esac
	code 2 "$SH" $v --url "$url" --key "$k" --cacert "$ca" $more
	said $v "--cert: missing (the client certificate, PEM)"
	code 2 "$SH" $v --url "$url" --cert "$crt" --cacert "$ca" $more
	said $v "--key: missing"
	code 2 "$SH" $v --cert "$crt" --key "$k" --cacert "$ca" $more
	said $v "--url: missing"
	code 2 "$SH" $v --url "$url" --cert "$crt" --key "$k" $more
	said $v "--cacert: missing"
	code 2 "$SH" $v $more --url "$url" --cert "$crt" --cacert "$ca" --key
	said $v "--key: needs a value"
	code 2 "$SH" $v --url "$url" --cert "" --key "$k" --cacert "$ca" $more
	said $v "--cert: empty"
	code 2 "$SH" $v --url "ftp://127.0.0.1:$port" --cert "$crt" --key "$k" \
	    --cacert "$ca" $more
	said $v "--url ftp://127.0.0.1:$port: not https://HOST[:PORT][/PATH]"
	code 2 "$SH" $v --url "$url" --cert "$crt" --key "$k" \
	    --cacert "$T/no-such-ca.crt" $more
	said $v "--cacert $T/no-such-ca.crt: No such file or directory"
	code 2 "$SH" $v $(tls xiaoshan) --bogus $more
	said $v "--bogus: not an option of this verb"
done
echo "cli: ok"
