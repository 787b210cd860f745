#!/bin/sh
# make demo: shanhai's whole job, end to end, on the sample agreements.
#
# In a throwaway folder: a test PKI, a ledger key and a config; shanhaid on a
# free loopback port with rules/; every sample report of tests/cases/example-*
# submitted by its bureau with `shanhai submit` (corrections and a dispute
# that is then resolved among them); a settlement table per agreement with
# `shanhai statement`; the ledger fetched as an auditor and checked with
# `shanhai verify`; the operator's view with `shanhai status`; then the
# daemon is stopped and nothing is left running.
#
# Exit 0: every step ran and the ledger verified. 1: a step failed.
# 3: some steps could not run because a piece they need is not built yet
# (each is named); no step is ever pretended.
set -eu
TOP=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
SH=$BUILD/shanhai
D=$(mktemp -d "${TMPDIR:-/tmp}/shanhai-demo.XXXXXX")
TMPDIR=$D
export TMPDIR
T=$D
DPID=
missing=

say() { printf '%s\n' "$*"; }
# run OUT CMD...: runs CMD with its output in OUT, then shows OUT indented;
# fails the demo when CMD fails.
run() {
	out=$1; shift
	st=0
	"$@" > "$out" 2>&1 || st=$?
	# Receipts (one long JSON line) stay in OUT; the rest is shown.
	sed '/^{"/d; s/^./   &/' "$out"
	[ $st = 0 ] || fail "$* (exit $st)"
}
step() { printf '\n== %s\n' "$*"; }
not_yet() {
	say "   NOT RUN YET: $1 (needs $2)"
	missing="$missing
  - $1: needs $2"
}
has_verb() { "$SH" help 2>&1 | grep -q "shanhai $1 "; }

finish() {
	rc=$?
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID" 2>/dev/null || true
		wait "$DPID" 2>/dev/null || true
	fi
	if [ "$rc" = 0 ] || [ "$rc" = 3 ]; then
		rm -rf "$D"
	else
		say "demo failed (exit $rc); its folder is kept: $D"
	fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 1' INT TERM HUP

fail() {
	say "FAILED: $*"
	[ -f "$D/daemon.log" ] && { say "--- shanhaid's log:"; tail -40 "$D/daemon.log"; }
	exit 1
}

start=$(date +%s)
say "shanhai demo: $("$SH" version), working in $D"

# ---------------------------------------------------------------- 1. PKI
step "1. A test PKI (tests/pki.sh): a CA, the server, the finance bureau of each side, an auditor, an operator"
if [ -f "$TOP/tests/pki.sh" ]; then
	sh "$TOP/tests/pki.sh" "$D/pki" > /dev/null
	for b in kecheng yuhang longquan xiaoshan qujiang yinzhou kaihua tongxiang; do
		printf '   %-17s speaks for side %s\n' "$b-finance" "$(cat "$D/pki/$b.code")"
	done
	say "   audit.zj.example (auditor), ops.shanhai.example (operator)"
	have_pki=1
else
	not_yet "test PKI" "tests/pki.sh"
	have_pki=0
fi

# ------------------------------------------------------------ 2. ledger key
step "2. The ledger's signing key (shanhai keygen)"
mkdir -p "$D/etc"
vkey=$("$SH" keygen --origin demo.shanhai.example/ledger --out "$D/etc/ledger.key")
say "   verifier key, for auditors: $vkey"

# ------------------------------------------------------ 3. config and daemon
step "3. shanhaid on a free loopback port with the sample agreements of rules/"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
URL=https://127.0.0.1:$port
running=0
if [ $have_pki = 1 ]; then
	fpr() { awk -v n="$1" '$1 == n { print $2 }' "$D/pki/fingerprints"; }
	{
		echo "# The demo's shanhaid.conf; see shanhaid.conf(5)."
		echo "listen    = [ \"127.0.0.1:$port\" ];"
		echo 'state_dir = "state";'
		echo "rules_dir = \"$TOP/rules\";"
		echo 'tls = { certificate = "../pki/server.crt"; key = "../pki/server.key";'
		echo '        client_ca = "../pki/ca.crt"; };'
		echo 'ledger = { origin = "demo.shanhai.example/ledger"; signing_key = "ledger.key"; };'
		echo 'clients = ('
		for b in kecheng yuhang longquan xiaoshan qujiang yinzhou kaihua tongxiang; do
			echo "  { name = \"$b-finance\"; role = \"bureau\"; codes = [ \"$(cat "$D/pki/$b.code")\" ];"
			echo "    fingerprint = \"$(fpr $b)\"; },"
		done
		echo "  { name = \"provincial-audit\"; role = \"auditor\"; fingerprint = \"$(fpr auditor)\"; },"
		echo "  { name = \"operations\"; role = \"operator\"; fingerprint = \"$(fpr operator)\"; }"
		echo ');'
	} > "$D/etc/shanhaid.conf"
	mkdir -p "$D/etc/state"
	say "   $D/etc/shanhaid.conf: listen 127.0.0.1:$port, rules_dir $TOP/rules,"
	say "   8 clients (6 bureaus by side code, the auditor, the operator) by certificate fingerprint"
	if "$BUILD/shanhaid" -t -c "$D/etc/shanhaid.conf" > "$D/t.out" 2>&1; then
		say "   shanhaid -t: $(cat "$D/t.out")"
		"$BUILD/shanhaid" -c "$D/etc/shanhaid.conf" >> "$D/daemon.log" 2>&1 &
		DPID=$!
		i=0
		until curl -s -o /dev/null --cacert "$D/pki/ca.crt" "$URL/healthz"; do
			i=$((i + 1))
			[ $i -lt 200 ] || fail "shanhaid did not serve on $port"
			kill -0 "$DPID" 2>/dev/null || fail "shanhaid exited at start"
			sleep 0.05
		done
		running=1
		say "   serving $URL (pid $DPID) with the agreements:"
		for f in "$TOP"/rules/*.conf; do
			say "     $(basename "$f" .conf): $(sed -n 's/^title *= *"\(.*\)";.*/\1/p' "$f")"
		done
	else
		not_yet "starting shanhaid" "the daemon (shanhaid -t says: $(head -1 "$D/t.out"))"
	fi
else
	not_yet "starting shanhaid" "the test PKI"
fi

# ---------------------------------------------------------- 4. the reports
step "4. Every sample report, submitted by its bureau (shanhai submit)"
submitted=0
if [ $running = 1 ] && has_verb submit; then
	# One file per report, and who sends it: the bureau of the report's side.
	python3 - "$TOP" "$D/reports" <<'EOF'
import json, os, re, sys
top, out = sys.argv[1:]
os.makedirs(out)
codes = {}
for f in os.listdir(os.path.join(top, "rules")):
    text = open(os.path.join(top, "rules", f)).read()
    aid = re.search(r'^id\s*=\s*"([^"]+)"', text, re.M).group(1)
    codes[aid] = {r: re.search(r'^%s\s*=\s*"(\d{6})"' % r, text, re.M).group(1)
                  for r in ("home", "host")}
bureau = {}
for f in os.listdir(os.path.join(out, "..", "pki")):
    if f.endswith(".code"):
        bureau[open(os.path.join(out, "..", "pki", f)).read().strip()] = f[:-5]
n = 0
plan = open(os.path.join(out, "plan"), "w")
for case in sorted(os.listdir(os.path.join(top, "tests", "cases"))):
    if not case.startswith("example-"):
        continue
    for line in open(os.path.join(top, "tests", "cases", case, "reports.jsonl")):
        r = json.loads(line)
        n += 1
        name = "%03d-%s.json" % (n, r["report_id"])
        open(os.path.join(out, name), "w").write(line)
        plan.write("%s %s %s %s %s %s %s\n" % (name, r["agreement"], r["period"],
                   r["role"], r["report_id"], r.get("supersedes", "-"),
                   bureau[codes[r["agreement"]][r["role"]]]))
EOF
	printf '   %-18s %-8s %-5s %-14s %-9s %s\n' agreement period side report status \
	    entries
	while read -r file agr period role rid sup who; do
		if ! "$SH" submit --url "$URL" --cert "$D/pki/$who.crt" \
		    --key "$D/pki/$who.key" --cacert "$D/pki/ca.crt" \
		    --out "$D/reports/$file.receipt" "$D/reports/$file" \
		    > /dev/null 2> "$D/submit.err"; then
			cat "$D/submit.err"
			fail "shanhai submit $file as $who"
		fi
				python3 - "$D/reports/$file.receipt" "$sup" "$agr/$period" "$role" "$D/states" \
		    > "$D/line" <<'EOF' || fail "receipt of $file"
import json, os, sys
r = json.load(open(sys.argv[1]))
sup, key, role, path = sys.argv[2:]
states = json.load(open(path)) if os.path.exists(path) else {}
e, st, was = r["entries"], r["status"], states.get(key)
notes = []
if sup != "-":
    notes.append("correction of " + sup)
if st == "disputed":
    notes.append("the two sides' figures differ: a dispute entry")
elif was == "disputed" and st == "settled":
    notes.append("the sides agree now: dispute resolved")
elif st == "waiting" and role == "host":
    notes.append("waits for the home side to confirm")
elif st == "waiting":
    notes.append("waits for an earlier period")
states[key] = st
json.dump(states, open(path, "w"))
print(("%-9s %-6s %s" % (st, "%d-%d" % (e[0], e[-1]) if len(e) > 1 else e[0],
      "; ".join(notes))).rstrip())
EOF
		printf '   %-18s %-8s %-5s %-14s %s\n' "$agr" "$period" "$role" "$rid" "$(cat "$D/line")"
		submitted=$((submitted + 1))
	done < "$D/reports/plan"
	say "   $submitted reports, each answered with a signed receipt once on disk"
elif [ $running = 1 ]; then
	not_yet "submitting the reports" "shanhai submit"
else
	not_yet "submitting the reports" "a running shanhaid"
fi

# ------------------------------------------------------------ 5. statements
step "5. The settlement of each agreement (shanhai statement)"
if [ $submitted -gt 0 ]; then
	for ay in kecheng-yuhang:2026 longquan-xiaoshan:2026 qujiang-yinzhou:2023 kaihua-tongxiang:2022; do
		say ""
		run "$D/statement.out" "$SH" statement --agreement "${ay%%:*}" \
		    --year "${ay#*:}" --url "$URL" --cert "$D/pki/auditor.crt" \
		    --key "$D/pki/auditor.key" --cacert "$D/pki/ca.crt"
	done
else
	not_yet "the settlement tables" "a ledger with the reports in it"
fi

# ------------------------------------------------------------ 6. year-end
step "6. The year-end (年终结算): both bureaus approve Kecheng-Yuhang's 2026 statement (shanhai approve)"
if [ $submitted -gt 0 ] && has_verb approve; then
	for b in yuhang kecheng; do
		run "$D/approve-$b.out" "$SH" approve --url "$URL" --cert "$D/pki/$b.crt" \
		    --key "$D/pki/$b.key" --cacert "$D/pki/ca.crt" \
		    --agreement kecheng-yuhang --year 2026 --yes
	done
	grep -q '"status":"approved"' "$D/approve-kecheng.out" ||
		fail "the year is not approved after both sides"
	say "   both sides approved the same statement hash: the year is approved, and both approvals are ledger entries"
	# Kept after the demo (its folder is not): under build/demo/.
	docs=$(cd "$(dirname "$SH")" && pwd)/demo
	mkdir -p "$docs"
	for f in pdf xlsx; do
		"$SH" statement --agreement kecheng-yuhang --year 2026 --format $f \
		    --out "$docs/kecheng-yuhang-2026.$f" --url "$URL" --cert "$D/pki/kecheng.crt" \
		    --key "$D/pki/kecheng.key" --cacert "$D/pki/ca.crt" ||
			fail "shanhai statement --format $f"
	done
	say "   the statement to file (结算单), with both approvals and the hash on it:"
	say "     $docs/kecheng-yuhang-2026.pdf"
	say "     $docs/kecheng-yuhang-2026.xlsx"
else
	not_yet "the year-end approvals" "shanhai approve"
fi

# -------------------------------------------------------------- 7. auditor
step "7. An auditor fetches the checkpoint and the entries, and verifies them offline (shanhai verify)"
if [ $submitted -gt 0 ]; then
	curl -sf --cacert "$D/pki/ca.crt" --cert "$D/pki/auditor.crt" --key "$D/pki/auditor.key" \
	    "$URL/v1/ledger/checkpoint" > "$D/checkpoint" || fail "GET /v1/ledger/checkpoint"
	size=$(sed -n 2p "$D/checkpoint")
	curl -sf --cacert "$D/pki/ca.crt" --cert "$D/pki/auditor.crt" --key "$D/pki/auditor.key" \
	    "$URL/v1/ledger/entries?start=0&end=$size" > "$D/entries" || fail "GET /v1/ledger/entries"
	say "   checkpoint: $(head -1 "$D/checkpoint"), $size entries, root $(sed -n 3p "$D/checkpoint")"
	run "$D/verify.out" "$SH" verify --vkey "$D/etc/ledger.key.vkey" \
	    --checkpoint "$D/checkpoint" --entries "$D/entries"
	say "   the ledger verified: signature, hash tree, and a replay of every settlement"
	r=$(ls "$D"/reports/*-lq-2026-Q2-r1.json.receipt)
	"$SH" verify --vkey "$D/etc/ledger.key.vkey" --checkpoint "$D/checkpoint" \
	    --entries "$D/entries" --receipt "$r" > /dev/null 2>&1 ||
		fail "shanhai verify --receipt"
	say "   and Longquan's receipt for the report that resolved its dispute proves it is in the ledger"
else
	not_yet "verifying the ledger" "a ledger with the reports in it"
fi

# ------------------------------------------------------------- 7. operator
step "8. The operator's view (shanhai status)"
if [ $running = 1 ] && has_verb status; then
	run "$D/status.out" "$SH" status --url "$URL" --cert "$D/pki/operator.crt" \
	    --key "$D/pki/operator.key" --cacert "$D/pki/ca.crt"
elif [ $running = 1 ]; then
	not_yet "the operator's status" "shanhai status"
else
	not_yet "the operator's status" "a running shanhaid"
fi

# ----------------------------------------------------------------- 8. stop
step "9. Stopping shanhaid"
if [ -n "$DPID" ]; then
	kill -TERM "$DPID"
	set +e
	wait "$DPID"
	rc=$?
	set -e
	DPID=
	[ $rc = 0 ] || fail "shanhaid exited $rc on SIGTERM"
	say "   SIGTERM: shanhaid finished its requests and exited 0; nothing is left running"
else
	say "   nothing was started"
fi

say ""
if [ -n "$missing" ]; then
	say "demo INCOMPLETE after $(($(date +%s) - start)) s: these steps could not run yet:$missing"
	exit 3
fi
say "demo done in $(($(date +%s) - start)) s: $submitted reports settled, ledger verified."
