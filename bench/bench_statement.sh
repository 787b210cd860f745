#!/bin/sh
# The statement endpoint from a warm daemon (target: under 5 ms): shanhaid
# with the sample agreements and Kecheng-Yuhang's 2026 reports; one kept-
# alive TLS connection with a bureau's certificate asks for the year's
# statement (JSON) and its PDF and XLSX STATEMENT_RUNS times each; the
# median and 95th percentile of each, and of GET /healthz on the same
# connection as the baseline of the TLS and HTTP round trip itself.
set -eu
BUILD=${BUILD:-build}
TOP=${TOP:-$(pwd)}
export BUILD TOP
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
sed -i 's/log_level = "debug";/log_level = "info";/' "$c"
start_daemon "$c"
base=https://127.0.0.1:$port
n=0
while IFS= read -r line; do
	n=$((n + 1))
	printf '%s\n' "$line" > "$T/r$n.json"
	as yuhang "$base/v1/reports" -H 'Content-Type: application/json' \
	    --data-binary @"$T/r$n.json" | tail -1 | grep -qx 201 || fail "report $n"
done < "$TOP/tests/cases/example-kecheng-yuhang-2026/reports.jsonl"
python3 - "$port" "$T/pki" "${STATEMENT_RUNS:-200}" <<'EOF'
import http.client, ssl, sys, time
port, pki, runs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/kecheng.crt", pki + "/kecheng.key")
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
path = "/v1/agreements/kecheng-yuhang/years/2026/statement"
def timed(p, accept):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        conn.request("GET", p, headers={"Accept": accept})
        r = conn.getresponse()
        body = r.read()
        out.append((time.perf_counter() - t) * 1000)
        assert r.status == 200, (p, r.status, body[:200])
    out.sort()
    return out[len(out) // 2], out[int(len(out) * 0.95)], len(body)
for name, p, accept in (("healthz (baseline)", "/healthz", "*/*"),
                        ("statement JSON", path, "application/json"),
                        ("statement PDF", path, "application/pdf"),
                        ("statement XLSX", path, "application/vnd.openxml"
                         "formats-officedocument.spreadsheetml.sheet")):
    med, p95, size = timed(p, accept)
    print("statement endpoint: %-20s median %6.2f ms, p95 %6.2f ms, %7d bytes (%d runs)"
          % (name, med, p95, size, runs))
print("statement endpoint: target: JSON under 5 ms; PDF and XLSX under 200 ms")
# The loop while PDFs are drawn (on threads of their own): /healthz on a
# second connection, timed while a first asks for PDF after PDF.
import threading
stop = False
def pdfs():
    c2 = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    while not stop:
        c2.request("GET", path, headers={"Accept": "application/pdf"})
        c2.getresponse().read()
t = threading.Thread(target=pdfs)
t.start()
time.sleep(0.2)
med, p95, _ = timed("/healthz", "*/*")
stop = True
t.join()
print("statement endpoint: healthz while PDFs render: median %6.2f ms, p95 %6.2f ms"
      " (the loop is not held by the drawing)" % (med, p95))
EOF
