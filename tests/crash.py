#!/usr/bin/env python3
"""crash.py: crash consistency of shanhaid (SPEC 6.3, 6.4), driven by
tests/it/crash_consistency.sh.

Bureaus submit concurrently (each over its own keep-alive mTLS connection,
one report at a time, with corrections and both sides of a `confirm`
agreement) while the daemon is killed with SIGKILL at random moments and
restarted, KILLS times. A report whose answer never came is in flight: it
is sent again, byte for byte, once the daemon is back, and must be answered
200 or 201, never 409. A watcher keeps every checkpoint it sees, and so do
the receipts. At the end:
  - every acknowledged report is at the index its receipt named, with its
    hash, and its receipt's checkpoint is among those checked below;
  - no two checkpoints ever seen share a size with different roots, and no
    size served after a restart is below one seen before the kill;
  - every checkpoint seen after a restart is consistent (RFC 9162 proof from
    the daemon, checked here) with every checkpoint seen before each kill,
    and with the final one; their signatures verify with `shanhai verify`;
  - the ledger holds each submitted report once, and its entries (without
    time, submitter and rules entries) are exactly what `shanhai settle`
    gives for those reports in ledger order.
Usage: crash.py CONF BUILD TMP KILLS REPORTS_PER_WORKER SEED
"""
import base64, hashlib, http.client, json, os, random, signal, ssl
import subprocess, sys, threading, time

conf, build, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
kills, per, seed = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
rnd = random.Random(seed)
etc = os.path.dirname(conf)
port = int(open(conf).read().split('127.0.0.1:')[1].split('"')[0])
pki = os.path.join(tmp, "pki")
log = open(os.path.join(tmp, "daemon.log"), "ab")
lock = threading.Lock()
daemon = None
failures = []


def fail(msg):
    with lock:
        failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr, flush=True)


def ctx(name):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(os.path.join(pki, "ca.crt"))
    c.load_cert_chain(os.path.join(pki, name + ".crt"),
                      os.path.join(pki, name + ".key"))
    return c


def start():
    global daemon
    daemon = subprocess.Popen([os.path.join(build, "shanhaid"), "-c", conf],
                              stdout=log, stderr=log)
    c = ctx("auditor")
    for _ in range(400):
        if daemon.poll() is not None:
            raise SystemExit("shanhaid exited with %d at start; see "
                             "daemon.log" % daemon.returncode)
        try:
            h = http.client.HTTPSConnection("127.0.0.1", port, context=c,
                                            timeout=5)
            h.request("GET", "/healthz")
            if h.getresponse().status == 200:
                h.close()
                return
        except OSError:
            pass
        time.sleep(0.025)
    raise SystemExit("shanhaid did not serve")


def stop():
    if daemon is not None and daemon.poll() is None:
        daemon.kill()
        daemon.wait()


signal.signal(signal.SIGTERM, lambda *a: (stop(), os._exit(1)))


class Client:
    """One keep-alive connection that reconnects after a failure."""
    def __init__(self, name):
        self.ctx, self.h = ctx(name), None

    def call(self, method, path, body=None):
        """(status, body), or None when the connection failed."""
        try:
            if self.h is None:
                self.h = http.client.HTTPSConnection(
                    "127.0.0.1", port, context=self.ctx, timeout=30)
            hdr = {"Content-Type": "application/json"} if body else {}
            self.h.request(method, path, body=body, headers=hdr)
            r = self.h.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            if self.h is not None:
                self.h.close()
            self.h = None
            return None


# Checkpoints: note text -> (size, root); `epochs[i]` those seen before kill i.
seen = {}
epochs = [set()]


def note_cp(note, epoch):
    """Records a checkpoint served by the daemon of `epoch` (the number of
    kills before the request was sent: a request sent before a kill is
    answered by the old daemon or not at all, whenever its answer is read).
    epoch None: a checkpoint signed at an unknown earlier time (the first
    receipt of a resubmitted report), kept for the one-root-per-size check."""
    lines = note.split("\n")
    size, root = int(lines[1]), base64.b64decode(lines[2])
    with lock:
        seen[note] = (size, root)
        if epoch is not None:
            epochs[epoch].add(note)


def epoch_now():
    with lock:
        return len(epochs) - 1


def plan(w):
    """Worker w's reports: (cert, body bytes), corrections after some."""
    out = []
    def rep(rid, agr, period, role, vat, sup=None, extra=None):
        r = {"report_id": rid, "agreement": agr, "period": period,
             "role": role, "taxes": {"vat": vat}}
        if sup:
            r["supersedes"] = sup
        if extra:
            r.update(extra)
        return json.dumps(r).encode()
    if w in (0, 1):		# kecheng-yuhang host: even months w0, odd w1
        for k in range(min(per, 113)):
            y, m = 2018 + (2 * k + w) // 12, (2 * k + w) % 12 + 1
            p, rid = "%d-%02d" % (y, m), "ky%d-%d" % (w, k)
            out.append(("yuhang", rep(rid, "kecheng-yuhang", p, "host",
                                      "%d.%02d" % (90000 + 37 * k, k))))
            if k % 5 == 4:
                out.append(("yuhang", rep(rid + "c", "kecheng-yuhang", p,
                                          "host", "%d.00" % (95000 + k), rid,
                                          {"deductions": "12.34"})))
    elif w == 2:		# qujiang-yinzhou host
        for k in range(per):
            p = "%d-%02d" % (2019 + k // 12, k % 12 + 1)
            out.append(("yinzhou", rep("qy-%d" % k, "qujiang-yinzhou", p,
                                       "host", "%d.50" % (50000 + 11 * k))))
    else:			# longquan-xiaoshan (confirm): host 3, home 4
        cert, role = ("xiaoshan", "host") if w == 3 else ("longquan", "home")
        for k in range(per):
            p = "%d-Q%d" % (2021 + k // 4, k % 4 + 1)
            vat = "%d.00" % (400000 + 1000 * k)
            if role == "home" and k % 7 == 3:
                vat = "1.00"	# a dispute, then a correction that agrees
            rid = "lx-%s-%d" % (role, k)
            out.append((cert, rep(rid, "longquan-xiaoshan", p, role, vat)))
            if role == "home" and k % 7 == 3:
                out.append((cert, rep(rid + "c", "longquan-xiaoshan", p,
                                      role, "%d.00" % (400000 + 1000 * k),
                                      rid)))
    return out


acked = {}		# report body -> receipt
inflight_retries = [0, 0]	# answered after a retry; of which 200
running = threading.Event()
running.set()


def worker(w):
    clients = {}
    for cert, body in plan(w):
        c = clients.setdefault(cert, Client(cert))
        tries = 0
        while True:
            ep = epoch_now()
            res = c.call("POST", "/v1/reports", body)
            if res is None or res[0] == 503:
                tries += 1	# killed meanwhile, or not writable yet
                time.sleep(0.02)
                continue
            status, out = res
            if tries and status not in (200, 201):
                fail("in-flight report answered %d after a restart: %s: %s"
                     % (status, body.decode(), out.decode()))
            elif status not in (200, 201):
                fail("report answered %d: %s: %s" % (status, body.decode(),
                                                      out.decode()))
            else:
                r = json.loads(out)
                with lock:
                    acked[body] = r
                    inflight_retries[0] += bool(tries)
                    inflight_retries[1] += bool(tries) and status == 200
                note_cp(r["proof"].split("\n\n", 1)[1],
                        ep if status == 201 else None)
            break


def watcher():
    c = Client("auditor")
    while running.is_set():
        ep = epoch_now()
        res = c.call("GET", "/v1/ledger/checkpoint")
        if res is not None and res[0] == 200:
            note_cp(res[1].decode(), ep)
        time.sleep(0.01)


def cp_file(note):
    path = os.path.join(tmp, "cp-%s" % hashlib.sha256(note.encode()).hexdigest()[:16])
    with open(path, "w") as f:
        f.write(note)
    return path


def H(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def consistent(first, second, r1, r2, proof):
    """RFC 9162 2.1.4.2."""
    if first == second:
        return r1 == r2 and not proof
    if first == 0:
        return not proof
    if first > second or not proof and first & (first - 1):
        return False
    if first & (first - 1) == 0:
        proof = [r1] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = H(b"\1", c, fr), H(b"\1", c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = H(b"\1", sr, c)
        fn >>= 1
        sn >>= 1
    return fr == r1 and sr == r2 and sn == 0


def main():
    start()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(5)]
    for t in threads:
        t.start()
    wt = threading.Thread(target=watcher)
    wt.start()
    for k in range(kills):
        time.sleep(rnd.uniform(0.05, 0.6))
        daemon.kill()
        daemon.wait()
        with lock:
            epochs.append(set())
        time.sleep(rnd.uniform(0, 0.1))
        start()
    for t in threads:
        t.join()
    running.clear()
    wt.join()

    aud = Client("auditor")
    st, cp = aud.call("GET", "/v1/ledger/checkpoint")
    assert st == 200, st
    final = cp.decode()
    note_cp(final, epoch_now())
    size, root = seen[final]
    st, body = aud.call("GET", "/v1/ledger/entries?start=0&end=%d" % size)
    assert st == 200, (st, body)
    entries = body.decode().split("\n")[:-1]
    if len(entries) != size:
        fail("%d entries for a checkpoint of %d" % (len(entries), size))

    # Receipts name their report's entry.
    for body, r in acked.items():
        e = json.loads(entries[r["index"]])
        if e.get("type") != "report" or e.get("sha256") != r["report"] \
                or r["entries"][0] != r["index"] or r["entries"][-1] >= size:
            fail("receipt %s does not match entry %d" % (r, r["index"]))

    # One root per size, sizes never go back across a kill.
    by_size = {}
    for note, (s, rt) in seen.items():
        if by_size.setdefault(s, rt) != rt:
            fail("two roots signed for size %d" % s)
    for i in range(1, len(epochs)):
        before = max((seen[n][0] for e in epochs[:i] for n in e), default=0)
        after = min((seen[n][0] for n in epochs[i]), default=before)
        if after < before:
            fail("after kill %d the daemon served size %d < %d seen before"
                 % (i, after, before))

    # Consistency of every later checkpoint with every earlier one.
    proofs = 0
    vkey = os.path.join(etc, "ledger.key.vkey")
    for i in range(1, len(epochs)):
        old = {seen[n][0]: n for e in epochs[:i] for n in e}
        new = {seen[n][0]: n for n in epochs[i]}
        new[size] = final
        for s1, n1 in old.items():
            for s2, n2 in new.items():
                if s2 < s1:
                    fail("size %d after kill %d below %d" % (s2, i, s1))
                    continue
                st, pb = aud.call("GET", "/v1/ledger/proof/consistency"
                                  "?from=%d&to=%d" % (s1, s2))
                hashes = [base64.b64decode(x)
                          for x in json.loads(pb)["hashes"]] if st == 200 else None
                if hashes is None or not consistent(s1, s2, seen[n1][1],
                                                    seen[n2][1], hashes):
                    fail("checkpoint %d (before kill %d) is not consistent "
                         "with %d after it" % (s1, i, s2))
                proofs += 1
    # Signatures: the last before each kill, the first after, the final.
    check = {final}
    for e in epochs:
        if e:
            check.add(max(e, key=lambda n: seen[n][0]))
            check.add(min(e, key=lambda n: seen[n][0]))
    for n in check:
        p = subprocess.run([os.path.join(build, "shanhai"), "verify",
                            "--vkey", vkey, "--checkpoint", cp_file(n)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            fail("checkpoint %d: %s" % (seen[n][0], p.stdout + p.stderr))

    # The ledger against `shanhai settle` on its reports.
    reports, derived, submitted = [], [], {json.loads(b)["report_id"] + "/" +
                                           json.loads(b)["role"]: b
                                           for w in range(5)
                                           for _, b in plan(w)}
    ids = set()
    for line in entries:
        e = json.loads(line)
        if e["type"] == "rules":
            continue
        e.pop("time", None)
        e.pop("submitter", None)
        derived.append(e)
        if e["type"] == "report":
            rep = e["report"]
            key = rep["report_id"] + "/" + rep["role"]
            if key in ids or key not in submitted:
                fail("report %s in the ledger twice or never sent" % key)
            ids.add(key)
            reports.append(json.dumps(rep, sort_keys=True,
                                      separators=(",", ":")))
    missing = set(submitted) - ids
    if missing:
        fail("reports answered but not in the ledger: %s" % sorted(missing))
    rpath = os.path.join(tmp, "ledger-reports.jsonl")
    with open(rpath, "w") as f:
        f.write("".join(r + "\n" for r in reports))
    p = subprocess.run([os.path.join(build, "shanhai"), "settle", "--rules",
                        os.path.join(etc, "rules"), rpath],
                       capture_output=True, text=True)
    want = [json.loads(l) for l in p.stdout.splitlines()]
    if p.returncode != 0 or want != derived:
        i = next((i for i, (a, b) in enumerate(zip(want, derived))
                  if a != b), min(len(want), len(derived)))
        fail("ledger differs from shanhai settle at derived entry %d: "
             "%s vs %s %s" % (i, want[i:i + 1], derived[i:i + 1], p.stderr))
    stop()
    print("crash: seed %d, %d kills, %d reports acknowledged (%d after a "
          "retry over a kill, %d of them already in: 200), %d checkpoints "
          "seen, %d consistency proofs, ledger of %d entries = shanhai settle"
          % (seed, kills, len(acked), inflight_retries[0], inflight_retries[1],
             len(seen), proofs, size))
    return 1 if failures else 0


try:
    rc = main()
finally:
    stop()
sys.exit(rc)
