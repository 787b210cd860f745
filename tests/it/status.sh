#!/bin/sh
# GET /metrics and `shanhai status`: operators only; the Prometheus text
# carries the version, uptime, ledger size, agreements and their periods by
# status, connections, requests by route and status with latency
# histograms, commit group sizes and fsync time, all true to what was done;
# `shanhai status` prints the same for a person and as JSON;
# `shanhai statement --url` reads the same ledger as `shanhai settle` gives.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
start_daemon "$c"
base=https://127.0.0.1:$port
tls() { echo --url "$base" --cert "$T/pki/$1.crt" --key "$T/pki/$1.key" --cacert "$T/pki/ca.crt"; }

# Only the operator reads /metrics.
as auditor "$base/metrics" | tail -1 | grep -qx 403 || fail "auditor read /metrics"
as none "$base/metrics" | tail -1 | grep -qx 403 || fail "no certificate read /metrics"

# Longquan-Xiaoshan's year: host and home reports, a dispute, a correction.
nrep=0
while IFS= read -r line; do
	nrep=$((nrep + 1))
	printf '%s\n' "$line" > "$T/r$nrep.json"
	case $line in *'"role": "home"'*) b=longquan ;; *) b=xiaoshan ;; esac
	as "$b" "$base/v1/reports" -H 'Content-Type: application/json' \
	    --data-binary @"$T/r$nrep.json" | tail -1 | grep -qx 201 || fail "report $nrep"
done < "$TOP/tests/cases/example-longquan-xiaoshan-2026/reports.jsonl"
# One refused (wrong side) and one unknown path, to be counted too.
as kecheng "$base/v1/reports" -H 'Content-Type: application/json' \
    --data-binary @"$T/r1.json" | tail -1 | grep -qx 403 || fail "wrong side not refused"
as auditor "$base/nowhere" | tail -1 | grep -qx 404 || fail "no 404"

as operator "$base/metrics" > "$T/m" || fail "GET /metrics"
tail -1 "$T/m" | grep -qx 200 || fail "operator cannot read /metrics: $(cat "$T/m")"
sed '$d' "$T/m" > "$T/metrics"
python3 - "$T/metrics" "$nrep" <<'EOF' || fail "metrics: see above"
import re, sys
text, n = open(sys.argv[1]).read(), int(sys.argv[2])
s = {}
for line in text.splitlines():
    if not line:
        continue
    if line.startswith("#"):
        assert re.match(r"# (HELP|TYPE) [a-z_]+ .+", line), line
        continue
    m = re.match(r'([a-z_]+)(\{.*\})? (\S+)$', line)
    assert m, "not a sample: " + line
    s[m.group(1) + (m.group(2) or "")] = float(m.group(3))
def get(k):
    assert k in s, "missing " + k
    return s[k]
assert get('shanhai_build_info{version="0.1.0"}') == 1
assert get("shanhai_uptime_seconds") >= 0
assert get("shanhai_ledger_entries") == 4 + 14, get("shanhai_ledger_entries")
assert get('shanhai_periods{agreement="longquan-xiaoshan",status="settled"}') == 4
assert get('shanhai_periods{agreement="longquan-xiaoshan",status="disputed"}') == 0
assert get('shanhai_periods{agreement="kecheng-yuhang",status="waiting"}') == 0
assert get("shanhai_connections") >= 1
for a in ("kecheng-yuhang", "longquan-xiaoshan", "qujiang-yinzhou", "kaihua-tongxiang"):
    assert any(k.startswith('shanhai_agreement_loaded_timestamp_seconds{agreement="%s",sha256="' % a) for k in s), a
r = 'route="/v1/reports",method="POST",status="%s"'
assert get("shanhai_http_requests_total{%s}" % (r % 201)) == n
assert get("shanhai_http_requests_total{%s}" % (r % 403)) == 1
assert get('shanhai_http_requests_total{route="(none)",method="GET",status="404"}') == 1
assert get('shanhai_http_requests_total{route="/metrics",method="GET",status="403"}') == 2
assert get("shanhai_http_request_duration_seconds_count{%s}" % (r % 201)) == n
assert get('shanhai_http_request_duration_seconds_bucket{%s,le="+Inf"}' % (r % 201)) == n
# Every report was its own group here (one client, one at a time).
assert get("shanhai_commit_group_reports_sum") == n
assert get("shanhai_commit_group_entries_sum") == 14
assert get("shanhai_commit_fsync_seconds_count") == get("shanhai_commit_group_reports_count")
assert 0 < get("shanhai_commit_fsync_seconds_sum") <= get("shanhai_commit_seconds_sum")
print("metrics: %d samples agree with what was done" % len(s))
EOF

# Every family /metrics serves is documented in shanhaid.8.
for f in $(sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$T/metrics"); do
	grep -q "$f\>" "$TOP/man/shanhaid.8" || fail "shanhaid.8 does not document $f"
done

# shanhai status, as a person reads it and as JSON.
"$BUILD/shanhai" status $(tls operator) > "$T/status" || fail "shanhai status"
cat "$T/status"
grep -q "^shanhaid 0.1.0 at $base" "$T/status" || fail "status: no version line"
grep -q "ledger: 18 entries; latest checkpoint: test.example/shanhai, size 18, root " \
    "$T/status" || fail "status: no ledger line"
grep -Eq "^  longquan-xiaoshan +[0-9-]+ [0-9:]+ UTC +[0-9a-f]{12} +0 +4 +0$" "$T/status" ||
    fail "status: no periods of longquan-xiaoshan"
grep -Eq "^  /v1/reports +$nrep +1 +0 +$((nrep + 1)) " "$T/status" || fail "status: no requests line"
grep -q "^commits: $nrep groups, $nrep submissions, 14 entries" "$T/status" || fail "status: no commits"
"$BUILD/shanhai" status $(tls operator) --format json > "$T/status.json" || fail "status --format json"
python3 - "$T/status.json" <<'EOF' || fail "status json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == "0.1.0" and d["ledger_entries"] == 18, d
assert d["checkpoint"]["size"] == 18, d["checkpoint"]
lq = [a for a in d["agreements"] if a["id"] == "longquan-xiaoshan"][0]
assert lq["periods"] == {"disputed": 0, "settled": 4, "waiting": 0}, lq
EOF
set +e
"$BUILD/shanhai" status $(tls auditor) > /dev/null 2> "$T/err"; rc=$?
set -e
[ $rc = 1 ] || fail "status as auditor (a 403 is a refusal): exit $rc"
grep -q "GET /metrics: 403" "$T/err" || fail "status as auditor: $(cat "$T/err")"

# shanhai statement over the API equals the offline one on the same reports,
# for the auditor and for a bureau of the agreement; another bureau gets 404.
for who in auditor longquan xiaoshan; do
	"$BUILD/shanhai" statement --agreement longquan-xiaoshan --year 2026 $(tls $who) \
	    --format json > "$T/online.json" || fail "statement --url as $who"
	"$BUILD/shanhai" settle --rules "$TOP/rules" \
	    "$TOP/tests/cases/example-longquan-xiaoshan-2026/reports.jsonl" > "$T/offline.jsonl"
	"$BUILD/shanhai" statement --agreement longquan-xiaoshan --year 2026 \
	    --entries "$T/offline.jsonl" --rules "$TOP/rules" --format json > "$T/offline.json"
	cmp "$T/online.json" "$T/offline.json" ||
	    fail "statement over the API as $who differs from the offline one"
done
set +e
"$BUILD/shanhai" statement --agreement longquan-xiaoshan --year 2026 $(tls yuhang) \
    > /dev/null 2> "$T/err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "404" "$T/err" || fail "statement as another bureau: exit $rc $(cat "$T/err")"
echo "status: ok"
