#!/usr/bin/env python3
"""A tlog-witness client written from the C2SP specs alone, for
tests/it/witness.sh: it builds add-checkpoint bodies by hand, sends them
over keep-alive HTTP(S), and checks cosignatures with the `cryptography`
package's Ed25519, not with shanhai's code.

  witness_client.py add URL OLD CHECKPOINT [PROOF.json|-]   status, type, body
  witness_client.py raw URL BODYFILE                        status, type, body
  witness_client.py check VKEY CHECKPOINT COSIG_LINES       verify, print time
  witness_client.py forge KEY.pem NAME CHECKPOINT WHEN       a cosignature line
  witness_client.py race URL1 URL2 OLD CHECKPOINT PROOF N   count 200s and 409s
  witness_client.py bench URL DIR N      sizes 1..N from DIR/cp.I, DIR/pf.I:
                                         add-checkpoint latency, median
"""
import base64
import hashlib
import http.client
import json
import ssl
import statistics
import struct
import sys
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)

CAFILE = None


def connect(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=CAFILE)
        return http.client.HTTPSConnection(u.hostname, u.port, context=ctx), u.path
    return http.client.HTTPConnection(u.hostname, u.port), u.path


def post(conn, prefix, body):
    conn.request("POST", prefix.rstrip("/") + "/add-checkpoint", body=body)
    r = conn.getresponse()
    return r.status, r.getheader("Content-Type", ""), r.read()


def body_for(old, checkpoint, proof):
    lines = ["old %d\n" % old] + [h + "\n" for h in proof]
    return ("".join(lines) + "\n").encode() + checkpoint


def load_proof(path):
    if path in ("-", ""):
        return []
    with open(path) as f:
        return json.load(f)["hashes"]


def note_text(note):
    i = note.rindex(b"\n\n")
    return note[:i + 1]


def check(vkey, checkpoint, lines):
    name, keyid, b64 = vkey.strip().split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 0x04 and len(raw) == 33, "not a cosigner key"
    kid = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert kid.hex() == keyid, "key ID mismatch"
    pub = Ed25519PublicKey.from_public_bytes(raw[1:])
    found = 0
    for line in lines.decode().splitlines():
        assert line.startswith("\u2014 "), "not a signature line: %r" % line
        lname, sig = line[2:].split(" ")
        sig = base64.b64decode(sig)
        if lname != name or sig[:4] != kid:
            continue
        assert len(sig) == 4 + 8 + 64, "cosignature length %d" % len(sig)
        (when,) = struct.unpack(">Q", sig[4:12])
        msg = b"cosignature/v1\ntime %d\n" % when + note_text(checkpoint)
        pub.verify(sig[12:], msg)   # raises on a bad signature
        print(when)
        found += 1
    assert found == 1, "%d cosignatures by %s" % (found, name)


def forge(keyfile, name, checkpoint, when):
    with open(keyfile, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    assert isinstance(key, Ed25519PrivateKey)
    pub = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    kid = hashlib.sha256(name.encode() + b"\n\x04" + pub).digest()[:4]
    msg = b"cosignature/v1\ntime %d\n" % when + note_text(checkpoint)
    sig = kid + struct.pack(">Q", when) + key.sign(msg)
    sys.stdout.write("\u2014 %s %s\n" % (name, base64.b64encode(sig).decode()))


def race(urls, old, checkpoint, proof, n):
    body = body_for(old, checkpoint, proof)
    results = []
    lock = threading.Lock()
    start = threading.Barrier(n)

    def one(i):
        conn, prefix = connect(urls[i % len(urls)])
        start.wait()
        st, _, b = post(conn, prefix, body)
        with lock:
            results.append((st, b))
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("200:%d 409:%d other:%d" % (
        sum(1 for s, _ in results if s == 200),
        sum(1 for s, _ in results if s == 409),
        sum(1 for s, _ in results if s not in (200, 409))))


def main():
    global CAFILE
    args = sys.argv[1:]
    if args and args[0] == "--cacert":
        CAFILE = args[1]
        args = args[2:]
    cmd = args[0]
    if cmd == "add":
        conn, prefix = connect(args[1])
        with open(args[3], "rb") as f:
            cp = f.read()
        proof = load_proof(args[4] if len(args) > 4 else "-")
        st, ct, b = post(conn, prefix, body_for(int(args[2]), cp, proof))
        sys.stdout.write("%d %s\n" % (st, ct))
        sys.stdout.buffer.write(b)
    elif cmd == "raw":
        conn, prefix = connect(args[1])
        with open(args[2], "rb") as f:
            st, ct, b = post(conn, prefix, f.read())
        sys.stdout.write("%d %s\n" % (st, ct))
        sys.stdout.buffer.write(b)
    elif cmd == "check":
        with open(args[1]) as f:
            vkey = f.read()
        with open(args[2], "rb") as f:
            cp = f.read()
        with open(args[3], "rb") as f:
            lines = f.read()
        check(vkey, cp, lines)
    elif cmd == "forge":
        with open(args[3], "rb") as f:
            forge(args[1], args[2], f.read(), int(args[4]))
    elif cmd == "race":
        with open(args[4], "rb") as f:
            cp = f.read()
        race([args[1], args[2]], int(args[3]), cp, load_proof(args[5]),
             int(args[6]))
    elif cmd == "bench":
        conn, prefix = connect(args[1])
        lat = []
        for i in range(1, int(args[3]) + 1):
            with open("%s/cp.%d" % (args[2], i), "rb") as f:
                cp = f.read()
            body = body_for(i - 1, cp, load_proof("%s/pf.%d" % (args[2], i)))
            t0 = time.perf_counter()
            st, _, _ = post(conn, prefix, body)
            lat.append(time.perf_counter() - t0)
            assert st == 200, "size %d: status %d" % (i, st)
        lat.sort()
        print("add-checkpoint over keep-alive HTTP, %d requests: median "
              "%.3f ms, p90 %.3f ms, max %.3f ms" % (
                  len(lat), 1e3 * statistics.median(lat),
                  1e3 * lat[int(0.9 * len(lat))], 1e3 * lat[-1]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
