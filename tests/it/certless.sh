#!/bin/sh
# Connections without a configured client (no certificate: only /healthz
# answers them) are closed after one answer, so they cannot hold the slots
# of limits.max_connections with keep-alive; a client's connection stays.
. "$TOP/tests/itlib.sh"
pki
port=$(free_port)
c=$T/etc/shanhaid.conf
write_config "$c" "$port" 'limits = { max_connections = 3; idle_timeout = 30; };'
start_daemon "$c"
python3 - "$port" "$T/pki" <<'PY' || fail "see above"
import socket, ssl, sys, time
port, pki = int(sys.argv[1]), sys.argv[2]

def conn(cert):
    ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
    if cert:
        ctx.load_cert_chain(pki + "/auditor.crt", pki + "/auditor.key")
    s = socket.create_connection(("127.0.0.1", port))
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")

def ask(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    s.settimeout(3)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    return data.decode("latin-1")

def closed(s, wait):
    s.settimeout(wait)
    try:
        while True:
            if s.recv(4096) == b"":
                return True
    except (socket.timeout, ssl.SSLError, OSError):
        return False

bad = 0
# Without a certificate: answered, told, and closed.
held = []
for i in range(3):
    s = conn(False)
    head = ask(s, "/healthz")
    if not head.startswith("HTTP/1.1 200") or \
            "connection: close" not in head.lower():
        print("FAIL: no certificate: %r" % head); bad = 1
    if not closed(s, 3):
        print("FAIL: no certificate: the connection stays open"); bad = 1
    held.append(s)
# Those three held every slot before: a client is served at once now.
t = time.time()
s = conn(True)
head = ask(s, "/v1/agreements")
if not head.startswith("HTTP/1.1 200"):
    print("FAIL: auditor: %r" % head); bad = 1
if time.time() - t > 2:
    print("FAIL: auditor waited %.1f s for a slot" % (time.time() - t)); bad = 1
# A configured client keeps its connection.
if "connection: close" in head.lower() or closed(s, 1):
    print("FAIL: the auditor's connection was closed"); bad = 1
sys.exit(bad)
PY
echo "ok: connections without a client close after one answer"
