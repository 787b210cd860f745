#!/usr/bin/env python3
"""hostile.py: shanhaid against hostile clients, driven by
tests/it/hostile.sh. Usage: hostile.py PORT PKI PID ASAN IDLE

While hundreds of connections sit idle (TCP only: handshakes that never
start), stop half way through a ClientHello, or send their headers a byte
at a time after the handshake (slowloris), and while other clients send
huge headers, bodies over the limit, deeply nested and invalid UTF-8 JSON
and a flood of requests, a well-behaved client is still answered at once,
the daemon's memory stays bounded, and the silent connections are closed
by the daemon within limits.request_timeout."""
import http.client, json, os, socket, ssl, sys, time

port, pki, pid, asan, nidle = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                               sys.argv[4] == "1", int(sys.argv[5]))
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr, flush=True)


def ctx(name):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(os.path.join(pki, "ca.crt"))
    c.load_cert_chain(os.path.join(pki, name + ".crt"),
                      os.path.join(pki, name + ".key"))
    return c


def rss():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def fds():
    return len(os.listdir("/proc/%d/fd" % pid))


def good(name="auditor", path="/v1/agreements", limit=2.0):
    """A well-behaved request must be answered 200 within limit seconds."""
    t = time.monotonic()
    try:
        h = http.client.HTTPSConnection("127.0.0.1", port, context=ctx(name),
                                        timeout=limit + 5)
        h.request("GET", path)
        r = h.getresponse()
        r.read()
        h.close()
        dt = time.monotonic() - t
        if r.status != 200 or dt > limit:
            fail("good client: %d after %.2f s" % (r.status, dt))
        return dt
    except OSError as e:
        fail("good client: %s" % e)
        return None


def tls_conn(name="auditor"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx(name).wrap_socket(s, server_hostname="localhost")


def raw(name, req, read=True):
    """Sends req over a new TLS connection; (status, body) or None."""
    try:
        s = tls_conn(name)
        s.sendall(req)
        if not read:
            return s
        data = b""
        s.settimeout(10)
        while True:
            try:
                chunk = s.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
        s.close()
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
        return status, data.partition(b"\r\n\r\n")[2]
    except (OSError, ValueError) as e:
        return 0, str(e).encode()


def post(body, name="yuhang", ctype="application/json", extra=b""):
    return raw(name, b"POST /v1/reports HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: " + ctype.encode() + b"\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n" + extra +
               b"Connection: close\r\n\r\n" + body)


base_rss, base_fds = rss(), fds()
good()

# 1. Idle TCP connections (no ClientHello), half ClientHellos, and TLS
#    connections that send their headers a byte at a time.
idle = []
for i in range(nidle):
    try:
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError as e:
        fail("idle connection %d: %s" % (i, e))
        break
half = []
for i in range(nidle // 4):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")	# a ClientHello's start
    half.append(s)
slow = []
for i in range(nidle // 8):
    s = tls_conn()
    s.sendall(b"GET /v1/agreements HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    slow.append(s)
t_opened = time.monotonic()
dts = [good() for _ in range(5)]
print("hostile: %d idle, %d half handshakes, %d slow headers open; good "
      "client answered in %s s" % (len(idle), len(half), len(slow),
                                   ", ".join("%.3f" % d for d in dts if d)))
for s in slow:
    try:
        s.sendall(b"a")
    except OSError:
        pass
peak_rss = rss()

# 2. Huge headers, bodies over the limit, nesting, invalid UTF-8.
st, body = raw("auditor", b"GET /v1/agreements HTTP/1.1\r\nHost: x\r\n" +
               b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 1000) for i in range(200))
               + b"\r\n")
if st not in (400, 413, 431, 0):
    fail("200 KB of headers answered %d" % st)
st, body = raw("auditor", b"GET /v1/agreements HTTP/1.1\r\nHost: x\r\nX-Long: "
               + b"b" * 100000 + b"\r\n\r\n")
if st not in (400, 413, 431, 0):
    fail("one 100 KB header answered %d" % st)
st, body = post(b'{"report_id":"' + b"x" * 70000 + b'"}')
if st != 413:
    fail("70 KB body answered %d: %s" % (st, body[:200]))
# A huge declared length: never buffered. evhttp's lingering close drains
# a refused body before it answers 413, so a client that declares 10 GB
# and sends 1 byte gets the connection closed at idle_timeout instead.
t = time.monotonic()
st, body = raw("yuhang", b"POST /v1/reports HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n"
               b"Content-Length: 10000000000\r\n\r\n{")
if st not in (413, 0) or time.monotonic() - t > 5:
    fail("10 GB declared body answered %d after %.1f s" % (st, time.monotonic() - t))
for depth in (1000, 4000):
    st, body = post(b"[" * (depth * 7) + b"]" * (depth * 7))
    if st != 400:
        fail("JSON nested %d deep answered %d: %s" % (depth, st, body[:200]))
    st, body = post(b'{"report_id":' * depth + b'1' + b'}' * depth)
    if st != 400 and st != 422:
        fail("objects nested %d deep answered %d: %s" % (depth, st, body[:200]))
for bad in (b'{"report_id":"\xff\xfe","agreement":"kecheng-yuhang"}',
            b'{"report_id":"a\xc0\xafb"}', b'{"report_id":"\xed\xa0\x80"}',
            b'{"report_id":"\\ud800"}', b'\xef\xbb\xbf{}', b'{"a":1,"a":2}',
            b'{"report_id":"a\x00b"}', b'{"report_id":"a\\u0000b"}'):
    st, body = post(bad)
    if st not in (400, 422):
        fail("%r answered %d: %s" % (bad, st, body[:200]))
st, body = post(b'{}', ctype="text/plain")
if st != 415:
    fail("text/plain body answered %d" % st)
st, body = raw("auditor", b"GET /v1/agreements HTTP/1.1\r\nHost: x\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"ffffffffffffffff\r\n")
if st not in (400, 413, 0):
    fail("chunk of 2^64-1 bytes answered %d" % st)
st, body = raw("auditor", b"\x00\xff GARBAGE \r\n\r\n")
if st not in (400, 0):
    fail("a binary request line answered %d" % st)
good()

# 3. A flood from one client: it meets its rate (429), others do not.
h = http.client.HTTPSConnection("127.0.0.1", port, context=ctx("yinzhou"),
                                timeout=10)
codes = {}
t = time.monotonic()
n = 0
while time.monotonic() - t < 1.0:
    h.request("GET", "/v1/agreements")
    r = h.getresponse()
    r.read()
    codes[r.status] = codes.get(r.status, 0) + 1
    n += 1
    if r.getheader("Connection", "").lower() == "close":
        h.close()
if codes.get(429, 0) == 0:
    fail("a flood of %d requests in 1 s never met limits.client_rate: %s"
         % (n, codes))
good("auditor")
print("hostile: flood of %d requests in 1 s from one client: %s; another "
      "client still served" % (n, codes))

# 4. The silent ones are closed by the daemon (request_timeout).
deadline = time.monotonic() + 15
open_left = len(idle) + len(half) + len(slow)
for s in idle + half + slow:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        while s.recv(4096):
            pass
        open_left -= 1
    except (socket.timeout, ssl.SSLError, OSError) as e:
        if not isinstance(e, socket.timeout):
            open_left -= 1
    s.close()
if open_left:
    fail("%d silent connections still open %.0f s after they opened"
         % (open_left, time.monotonic() - t_opened))
time.sleep(0.5)
end_rss, end_fds = rss(), fds()
good()
print("hostile: silent connections closed by the daemon after %.1f s; RSS "
      "%d MB at start, %d MB with all of them open, %d MB after; fds %d, %d"
      % (time.monotonic() - t_opened, base_rss, peak_rss, end_rss, base_fds,
         end_fds))
bound = 600 if asan else 64
if max(peak_rss, end_rss) > bound:
    fail("RSS %d MB over %d MB" % (max(peak_rss, end_rss), bound))
if end_fds > base_fds + 4:
    fail("%d file descriptors after, %d before" % (end_fds, base_fds))
sys.exit(1 if failures else 0)
