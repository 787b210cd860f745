# itlib.sh: helpers for the integration tests in tests/it (sourced).
# Every test gets BUILD, TOP and a scratch TMPDIR from tests/run.sh.
set -eu
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
T=${TMPDIR:-/tmp}
PIDS=

cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT
# A test stopped by a signal (run.sh's timeout, ^C) cleans up too: a daemon
# left behind would keep its port, and any descriptor it inherited.
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	[ -f "$T/daemon.log" ] && { echo "--- daemon log:" >&2; cat "$T/daemon.log" >&2; }
	exit 1
}

free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# pki: the test PKI in $T/pki (tests/pki.sh), once per test.
pki() {
	[ -f "$T/pki/fingerprints" ] || sh "$TOP/tests/pki.sh" "$T/pki" >/dev/null
}
fpr() { awk -v n="$1" '$1 == n { print $2 }' "$T/pki/fingerprints"; }

# write_config FILE PORT [EXTRA]: a config in FILE's folder with relative
# paths, the sample rules, and a client entry for every bureau, the auditor
# and the operator of the test PKI.
write_config() {
	d=$(dirname "$1")
	mkdir -p "$d/tls" "$d/rules" "$d/state"
	cp "$T/pki/server.crt" "$T/pki/server.key" "$T/pki/ca.crt" "$d/tls/"
	cp "$TOP"/rules/*.conf "$d/rules/"
	{
		echo "listen = [ \"127.0.0.1:$2\" ];"
		echo 'state_dir = "state";'
		echo 'rules_dir = "rules";'
		echo 'log_level = "debug";'
		echo 'tls = { certificate = "tls/server.crt"; key = "tls/server.key"; client_ca = "tls/ca.crt"; };'
		echo 'ledger = { origin = "test.example/shanhai"; signing_key = "ledger.key"; };'
		echo "${3:-}"
		echo 'clients = ('
		for b in kecheng yuhang longquan xiaoshan qujiang yinzhou kaihua tongxiang; do
			echo "  { name = \"$b-finance\"; role = \"bureau\"; codes = [ \"$(cat "$T/pki/$b.code")\" ]; fingerprint = \"$(fpr $b)\"; },"
		done
		echo "  { name = \"provincial-audit\"; role = \"auditor\"; common_name = \"audit.zj.example\"; },"
		echo "  { name = \"ops\"; role = \"operator\"; fingerprint = \"$(fpr operator)\"; common_name = \"ops.shanhai.example\"; }"
		echo ');'
	} > "$1"
	[ -f "$d/ledger.key" ] ||
	    "$BUILD/shanhai" keygen --origin test.example/shanhai --out "$d/ledger.key" >/dev/null
}

# bench_config FILE PORT N: write_config for a benchmark: no limit on
# connections, log level info, and in place of the sample rules the N
# monthly agreements bench-00 ... that bench/loadgen.c reports for.
bench_config() {
	write_config "$1" "$2" 'limits = { client_connections = 4096; max_connections = 4096; };'
	sed -i 's/^log_level = .*/log_level = "info";/' "$1"
	rm -f "$(dirname "$1")/rules/"*.conf
	for i in $(seq 0 $(($3 - 1))); do
		id=$(printf 'bench-%02d' "$i")
		cat > "$(dirname "$1")/rules/$id.conf" <<EOF
id = "$id"; home = "330802"; host = "330110"; cadence = "monthly";
start = "1000-01"; taxes = ( { code = "vat"; } );
terms = ( { from = "1000-01"; home = "50%"; } );
EOF
	done
}

# start_daemon CONF: runs shanhaid in the background (log in $T/daemon.log)
# and waits until /healthz answers. Sets DPID.
start_daemon() {
	"$BUILD/shanhaid" -c "$1" >>"$T/daemon.log" 2>&1 &
	DPID=$!
	PIDS="$PIDS $DPID"
	port=$(sed -n 's/^listen = \[ "127.0.0.1:\([0-9]*\)".*/\1/p' "$1")
	i=0
	until curl -s -o /dev/null --cacert "$T/pki/ca.crt" "https://127.0.0.1:$port/healthz"; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "shanhaid did not serve on $port"
		kill -0 "$DPID" 2>/dev/null || fail "shanhaid exited"
		sleep 0.05
	done
}

# bureau_of REPORT: the test PKI's bureau that speaks for the report's side,
# from the side codes of the agreements in $d/rules (write_config's folder).
bureau_of() {
	python3 - "$1" "${d:-$T/etc}/rules" "$T/pki" <<'EOF'
import json, os, re, sys
r = json.loads(open(sys.argv[1]).read())
conf = open(os.path.join(sys.argv[2], r["agreement"] + ".conf")).read()
code = re.search(r'^%s\s*=\s*"(\d{6})"' % r["role"], conf, re.M).group(1)
for f in os.listdir(sys.argv[3]):
    if f.endswith(".code") and open(os.path.join(sys.argv[3], f)).read().strip() == code:
        print(f[:-5])
EOF
}

# spawn N FN: runs FN 0 .. FN N-1 in the background (cleaned up at exit);
# their pids in SPAWNED.
spawn() {
	SPAWNED=
	for w in $(seq 0 $(($1 - 1))); do
		"$2" "$w" &
		SPAWNED="$SPAWNED $!"
	done
	PIDS="$PIDS $SPAWNED"
}

# as NAME URL [curl args]: curl with NAME's certificate; prints the status
# code then the body.
as() {
	n=$1; u=$2; shift 2
	if [ "$n" = none ]; then
		curl -s -w '\n%{http_code}\n' --cacert "$T/pki/ca.crt" "$@" "$u"
	else
		curl -s -w '\n%{http_code}\n' --cacert "$T/pki/ca.crt" \
		    --cert "$T/pki/$n.crt" --key "$T/pki/$n.key" "$@" "$u"
	fi
}

# hup: SIGHUP to the daemon (DPID), then wait until the log says that this
# reload was taken or refused (RELOADS counts them in $T/daemon.log).
RELOADS=0
hup() {
	RELOADS=$((RELOADS + 1))
	kill -HUP "$DPID"
	i=0
	until [ "$(grep -c 'reload: done\|reload refused: keeping' "$T/daemon.log")" -ge $RELOADS ]; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "reload $RELOADS did not finish"; sleep 0.05
	done
}

# wait_log PATTERN: until the daemon log holds PATTERN (grep -E).
wait_log() {
	i=0
	until grep -Eq "$1" "$T/daemon.log"; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "log never said: $1"
		sleep 0.05
	done
}

# start_refused CONF LOG: shanhaid must refuse to start on CONF (a state
# behind what was published: never a fork); its output into LOG.
start_refused() {
	if "$BUILD/shanhaid" -c "$1" >"$2" 2>&1; then
		fail "an old state started: $(cat "$2")"
	fi
}

# flip_byte FILE OFFSET: inverts every bit of one byte in place, so the
# file always changes (writing a fixed byte would leave it as it was when
# that byte was already there: one time in 256 for a hash).
flip_byte() {
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}

# wait_exit PID SECONDS: the process's exit status, failing past SECONDS.
wait_exit() {
	i=0
	while [ -e /proc/$1 ] && [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" != Z ]; do
		i=$((i + 1))
		[ $i -lt $(($2 * 20)) ] || fail "pid $1 still running after $2 s"
		sleep 0.05
	done
	wait "$1"
}
