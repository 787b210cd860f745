#!/usr/bin/env python3
"""Reads a C2SP tlog-tiles mirror (a folder, or an https:// prefix) the way
any tlog-tiles client would, written from the spec alone: the checkpoint's
size, every level-0 tile and entry bundle it needs (full, then the partial
one), the entries hashed as RFC 6962 leaves and compared with the level-0
tiles, every full tile hashed and compared with the level above, and the
RFC 6962 root computed from the tiles compared with the checkpoint's.
Prints the entries as JSON lines on stdout (for `shanhai verify
--entries`). Exits 1 naming the first tile that is wrong.

  tiles_read.py [--cacert CA] DIR_OR_URL
"""
import base64
import hashlib
import ssl
import sys
import urllib.request

CTX = None


def fetch(base, rel):
    if base.startswith("https://"):
        with urllib.request.urlopen(base.rstrip("/") + "/" + rel, context=CTX) as r:
            return r.read()
    with open(base.rstrip("/") + "/" + rel, "rb") as f:
        return f.read()


def tile_path(level, n, width):
    s = "%d" % n
    s = "0" * (-len(s) % 3) + s
    groups = [s[i:i + 3] for i in range(0, len(s), 3)]
    p = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    lv = "entries" if level < 0 else "%d" % level
    return "tile/%s/%s%s" % (lv, p, "" if width == 256 else ".p/%d" % width)


def leaf(b):
    return hashlib.sha256(b"\x00" + b).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(hashes):
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


def die(msg):
    sys.stderr.write("tiles_read: %s\n" % msg)
    sys.exit(1)


def main():
    global CTX
    args = sys.argv[1:]
    if args[0] == "--cacert":
        CTX = ssl.create_default_context(cafile=args[1])
        args = args[2:]
    base = args[0]
    cp = fetch(base, "checkpoint").decode()
    lines = cp.split("\n")
    size = int(lines[1])
    root = base64.b64decode(lines[2])
    out = sys.stdout.buffer
    leaves = []
    for n in range((size + 255) // 256):
        w = min(256, size - 256 * n)
        tile = fetch(base, tile_path(0, n, w))
        bundle = fetch(base, tile_path(-1, n, w))
        if len(tile) != 32 * w:
            die("%s: %d bytes, not %d" % (tile_path(0, n, w), len(tile), 32 * w))
        off = 0
        for i in range(w):
            ln = int.from_bytes(bundle[off:off + 2], "big")
            e = bundle[off + 2:off + 2 + ln]
            off += 2 + ln
            if leaf(e) != tile[32 * i:32 * i + 32]:
                die("%s: entry %d does not hash to its leaf in %s" % (
                    tile_path(-1, n, w), 256 * n + i, tile_path(0, n, w)))
            out.write(e + b"\n")
            leaves.append(tile[32 * i:32 * i + 32])
        if off != len(bundle):
            die("%s: %d bytes after its %d entries" % (tile_path(-1, n, w), len(bundle) - off, w))
    # Higher levels: each hash is the MTH of a full tile of the level below.
    level, below = 1, leaves
    while len(below) >= 256:
        above = [mth(below[256 * k:256 * k + 256]) for k in range(len(below) // 256)]
        for n in range((len(above) + 255) // 256):
            w = min(256, len(above) - 256 * n)
            t = fetch(base, tile_path(level, n, w))
            if t != b"".join(above[256 * n:256 * n + w]):
                die("%s: not the hashes of the tiles below" % tile_path(level, n, w))
        level, below = level + 1, above
    got = mth(leaves) if leaves else hashlib.sha256(b"").digest()
    if got != root:
        die("the tiles' root is not the checkpoint's (size %d)" % size)
    sys.stderr.write("tiles_read: %d entries, %d levels, root matches\n" % (size, level))


main()
