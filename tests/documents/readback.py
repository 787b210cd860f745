"""Reads back the documents `shanhai statement --model` rendered from one
model, in every format, and checks every amount against the model.

usage: readback.py MODEL.json BASE LANG
(BASE.pdf.txt, BASE.fonts, BASE.info: pdftotext -layout, pdffonts and
pdfinfo of BASE.pdf; BASE.xlsx, BASE.csv, BASE.json, BASE.table.)
"""
import csv
import hashlib
import io
import json
import re
import sys
from decimal import Decimal

import openpyxl

mpath, base, lang = sys.argv[1:]
m = json.load(open(mpath, encoding="utf-8"))
st = m["statement"]
F = ["base", "home", "host", "floor_topup"]
CENT = Decimal("0.01")


def grouped(s):
    neg = s.startswith("-")
    w, f = s.lstrip("-").split(".")
    return ("-" if neg else "") + "{:,}".format(int(w)) + "." + f


def canon(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def fen_of(v):
    """The fen of a number read from the workbook (a double)."""
    return Decimal(repr(float(v))).quantize(CENT)


# Every amount a document must show: per period, the totals, the taxes,
# the beneficiaries and the statistics.
amounts = []
for p in st["periods"]:
    amounts += [(p["period"], f, p[f]) for f in F]
amounts += [("total", f, st["total"][f]) for f in F]
amounts += [("ben", k, v) for k, v in st["total"]["beneficiaries"].items()]
for k, v in st["total"]["statistics"].items():
    amounts += [("stat", k, v["home"]), ("stat", k, v["host"])]
for d in m["detail"]:
    for code, t in d["taxes"].items():
        if t["amount"] != "0.00":
            amounts += [(d["period"], code, t["amount"]),
                        (d["period"], code, t["retained"])]

# The home side's total in capital numerals, worked out by hand.
DAXIE = {"1500000.00": "壹佰伍拾万元整",
         "2166543.98": "贰佰壹拾陆万陆仟伍佰肆拾叁元玖角捌分",
         "12000000.00": "壹仟贰佰万元整"}
daxie = DAXIE[st["total"]["home"]]

# --- JSON: the statement, canonical, and its hash.
raw = open(base + ".json", "rb").read()
j = json.loads(raw)
assert raw == (canon(j) + "\n").encode(), "json: not canonical"
assert j["statement"] == st and j["sha256"] == m["sha256"]
assert hashlib.sha256(canon(st).encode()).hexdigest() == m["sha256"]
assert canon(st).encode() in raw, "json: statement bytes not as hashed"

# --- CSV: BOM, CRLF only, RFC 4180; the sections and their figures.
raw = open(base + ".csv", "rb").read()
assert raw.startswith(b"\xef\xbb\xbf"), "csv: no BOM"
assert raw.endswith(b"\r\n"), "csv: last line"
assert b"\n" not in raw.replace(b"\r\n", b""), "csv: a bare LF"
assert b"\r" not in raw.replace(b"\r\n", b""), "csv: a bare CR"
rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))
cells = [c for r in rows for c in r]
for who, f, v in amounts:
    assert v in cells, ("csv", who, f, v)
per = {r[0]: r for r in rows if len(r) == 7}
for p in st["periods"]:
    r = per[p["period"]]
    assert r[1] == p["term"] and r[2:6] == [p[f] for f in F], ("csv", r)
assert daxie in cells, "csv: 大写"
assert m["sha256"] in cells
if m["checkpoint"]:
    assert m["checkpoint"]["root"] in cells
# Negative amounts stay numbers: never an apostrophe before a figure.
assert not any(re.match(r"^'-?[0-9]", c) for c in cells)

# --- XLSX: the sheets, numbers with a two-decimal format, frozen header.
wb = openpyxl.load_workbook(base + ".xlsx")
names = wb.sheetnames
want = ["概况", "一、分期结算", "五、年度合计"] if lang == "zh" else \
    ["Summary", "1. Settlement by period", "5. Totals for the year"]
assert all(n in names for n in want), names
num = {}
for ws in wb.worksheets:
    assert ws.freeze_panes == "A2", (ws.title, ws.freeze_panes)
    assert ws.column_dimensions["A"].width > 8, ws.title
    for row in ws.iter_rows(min_row=2):
        for c in row:
            if isinstance(c.value, str):
                assert not re.match(r"^-?[0-9,]+\.[0-9]{2}$", c.value), \
                    ("xlsx: an amount as text", ws.title, c.value)
            if isinstance(c.value, (int, float)) and \
                    c.number_format == "#,##0.00":
                s = str(fen_of(c.value))
                num[s] = num.get(s, 0) + 1
for who, f, v in amounts:
    assert str(Decimal(v).quantize(CENT)) in num, ("xlsx", who, f, v)
periods = wb[want[1]]
for i, p in enumerate(st["periods"]):
    r = [c.value for c in periods[i + 2]]
    assert r[0] == p["period"], r
    for k, f in enumerate(F):
        assert isinstance(r[2 + k], (int, float)), ("xlsx: not a number", r)
        assert fen_of(r[2 + k]) == Decimal(p[f]), ("xlsx", r, f)
assert any(c.value == daxie for ws in wb.worksheets
           for row in ws.iter_rows() for c in row), "xlsx: 大写"

# --- PDF: A4, fonts embedded, every amount and the hash in the text.
info = open(base + ".info").read()
assert re.search(r"Page size:\s+595\.2\d* x 841\.8\d* pts \(A4\)", info), info
fonts = open(base + ".fonts").read().splitlines()[2:]
assert fonts and all(l.split()[-5] == "yes" for l in fonts), fonts
assert any("NotoSerifCJK" in l for l in fonts), fonts
text = open(base + ".pdf.txt", encoding="utf-8").read()
flat = re.sub(r"\s+", "", text)
for who, f, v in amounts:
    assert grouped(v) in text, ("pdf", who, f, grouped(v))
if lang == "zh":
    title = "%s %s年度收益分成结算单" % (m["agreement"]["title"], st["year"])
    assert re.sub(r"\s+", "", title) in flat, "pdf: title"
    assert daxie in flat, "pdf: 大写"
    assert "上解" in text and "补助" in text
    for side in ("host", "home"):
        a = m["approvals"][side]
        assert ("待确认" in text) if a is None else (a["time"] in text), side
    for side in ("home", "host"):
        name = m["agreement"].get(side + "_name")
        if name:
            assert name in flat, ("pdf", name)
        assert m["agreement"][side] in text
else:
    assert "Remittance" in text and "Subsidy" in text
assert m["sha256"] in text
if m["checkpoint"]:
    assert m["checkpoint"]["root"] in text
    assert m["checkpoint"]["origin"] in text

# --- the text table: the totals row.
table = open(base + ".table", encoding="utf-8").read()
assert all(grouped(st["total"][f]) in table for f in F)
print("%s %s: %d amounts checked in pdf, xlsx, csv, json, table"
      % (mpath, lang, len(amounts)))
