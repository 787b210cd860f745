#!/bin/sh
# An answer larger than the socket can take at once, to a client that reads
# it slowly: http_reply() writes an answer in the loop pass that makes it,
# and what the socket does not take must still leave, whole and in order,
# as the client reads, while the daemon goes on serving others.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port"
cat > "$T/etc/rules/slow-00.conf" <<EOF
id = "slow-00"; home = "330802"; host = "330110"; cadence = "monthly";
start = "1000-01"; taxes = ( { code = "vat"; } );
terms = ( { from = "1000-01"; home = "50%"; } );
EOF
start_daemon "$c"
timeout 120 python3 - "$port" "$T/pki" <<'PY' || fail "slow reader"
import socket, ssl, sys, time

port, pki = int(sys.argv[1]), sys.argv[2]

def connect(name, rcvbuf=None):
    ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
    ctx.load_cert_chain(pki + "/" + name + ".crt", pki + "/" + name + ".key")
    ctx.check_hostname = False
    raw = socket.socket()
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(20)
    raw.connect(("127.0.0.1", port))
    return ctx.wrap_socket(raw)

def answer(s, slow=False):
    """Reads one HTTP/1.1 answer with a Content-Length: status, body."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    n = [int(l.split(":", 1)[1]) for l in lines
         if l.lower().startswith("content-length:")][0]
    while len(buf) < n:
        if slow:
            time.sleep(0.002)
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("connection closed after %d of %d bytes"
                             % (len(buf), n))
        buf += chunk
    return status, buf[:n]

def get(s, path, slow=False):
    s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode())
    return answer(s, slow)

# 1,500 reports, month after month, on one keep-alive connection.
b = connect("yuhang")
for p in range(1500):
    rep = ('{"report_id":"s-%d","agreement":"slow-00","period":"%04d-%02d",'
           '"role":"host","taxes":{"vat":"%d.%02d"}}'
           % (p, 1000 + p // 12, p % 12 + 1, 1000 + p, p % 100)).encode()
    b.sendall(b"POST /v1/reports HTTP/1.1\r\nHost: t\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
              % len(rep) + rep)
    st, _ = answer(b)
    if st != 201:
        raise SystemExit("report %d: status %d" % (p, st))

a = connect("auditor")
st, cp = get(a, "/v1/ledger/checkpoint")
size = int(cp.decode().split("\n")[1])
st, fast = get(a, "/v1/ledger/entries?start=0&end=%d" % size)
if st != 200 or len(fast) < 256 * 1024:
    raise SystemExit("entries: status %d, %d bytes" % (st, len(fast)))

# The same answer to a client with a small receive buffer reading 4 KiB
# every 2 ms; meanwhile another client is answered at once.
s = connect("auditor", rcvbuf=8192)
s.sendall(("GET /v1/ledger/entries?start=0&end=%d HTTP/1.1\r\nHost: t\r\n\r\n"
           % size).encode())
time.sleep(0.3)
t0 = time.monotonic()
st, _ = get(a, "/healthz")
took = time.monotonic() - t0
if st != 200 or took > 1.0:
    raise SystemExit("healthz during the slow read: %d in %.2f s" % (st, took))
st, slow = answer(s, slow=True)
if st != 200 or slow != fast:
    raise SystemExit("slow read: status %d, %d bytes, %s" % (
        st, len(slow), "same" if slow == fast else "different"))
# The connection still serves the next request.
st, again = get(s, "/v1/ledger/checkpoint")
if st != 200 or again != cp:
    raise SystemExit("after the slow read: status %d" % st)
print("slow reader: %d entries, %d bytes read slowly, identical" % (size, len(slow)))
PY
