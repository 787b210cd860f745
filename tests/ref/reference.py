"""An independent reference of SPEC sections 2-5, written from the text alone.

It shares no code with daemon/ (different language, arbitrary-precision
rationals instead of __int128), so a difference between the two on generated
inputs points at a misreading in one of them. tests/ref/difftest.py drives it.

Agreements are given as dicts (the generator builds them and writes the same
content as libconfig text); reports as the JSON text of one line.
"""

import copy
import hashlib
import json
import re
from fractions import Fraction

AMOUNT_RE = re.compile(r'^-?(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?$')
REPORT_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
MONTH_RE = re.compile(r'^([0-9]{4})-(0[1-9]|1[0-2])$')
QUARTER_RE = re.compile(r'^([0-9]{4})-Q([1-4])$')
YEAR_RE = re.compile(r'^([0-9]{4})()$')
CADENCE = {"monthly": (MONTH_RE, 12), "quarterly": (QUARTER_RE, 4),
           "yearly": (YEAR_RE, 1)}
REPORT_KEYS = {"report_id", "agreement", "period", "role", "taxes",
               "deductions", "statistics", "supersedes"}


class Refused(Exception):
    pass


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def fen(s):
    if not isinstance(s, str) or not AMOUNT_RE.match(s):
        raise ValueError(s)
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    whole, _, frac = s.partition(".")
    v = int(whole) * 100 + int((frac + "00")[:2])
    return -v if neg else v


def fmt(v):
    sign = "-" if v < 0 else ""
    v = abs(v)
    return "%s%d.%02d" % (sign, v // 100, v % 100)


def ratio(s):
    if s.endswith("%"):
        return Fraction(s[:-1]) / 100
    a, b = s.split("/")
    return Fraction(int(a), int(b))


def rnd(x):
    """Exact rational to the nearest integer, halves away from zero."""
    x = Fraction(x)
    if x >= 0:
        return int((x + Fraction(1, 2)) // 1)
    return -int((-x + Fraction(1, 2)) // 1)


def alloc(total, weights):
    t = abs(total)
    w = sum(weights)
    parts = [t * wi // w for wi in weights]
    rems = [t * wi % w for wi in weights]
    left = t - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-rems[i], i))
    for i in order[:left]:
        parts[i] += 1
    return [-p for p in parts] if total < 0 else parts


def period_key(cadence, p):
    """(year, index within year) of a period string of the given cadence."""
    m = CADENCE[cadence][0].match(p or "")
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2) or 1))


def period_str(cadence, key):
    y, i = key
    if cadence == "yearly":
        return "%04d" % y
    return "%04d-%02d" % (y, i) if cadence == "monthly" else "%04d-Q%d" % (y, i)


class Agreement:
    def __init__(self, d):
        self.d = d
        self.id = d["id"]
        self.cadence = d["cadence"]
        self.per_year = CADENCE[self.cadence][1]
        self.months_per = 12 // self.per_year
        self.start = period_key(self.cadence, d["start"])
        self.end = period_key(self.cadence, d["end"]) if d.get("end") else None
        self.confirm = d.get("confirm", False)
        self.taxes = [(t["code"], ratio(t.get("retain", "100%")))
                      for t in d["taxes"]]
        self.stats = [(s["code"], s.get("mode", "host"),
                       ratio(s["home"]) if s.get("mode") == "split" else None)
                      for s in d.get("statistics", [])]
        self.bens = [(b["id"], b["weight"]) for b in d.get("beneficiaries", [])]
        self.terms = []
        for t in d["terms"]:
            term = {"from": t["from"], "key": period_key(self.cadence, t["from"])}
            if "fixed" in t:
                f = t["fixed"]
                if "annual" in f:
                    term["annual"] = fen(f["annual"])
                else:
                    term["annual"] = rnd(fen(f["principal"]) * ratio(f["rate"]))
            elif "home" in t:
                term["home"] = ratio(t["home"])
            else:
                term["bands"] = [(fen(b["upto"]) if "upto" in b else None,
                                  ratio(b["home"])) for b in t["bands"]]
            # Retention and attribution in force: the agreement's, with what
            # the term names in its place (SPEC v2 §4).
            term["taxes"] = [(c, ratio(t.get("retain", {}).get(c, None))
                              if c in t.get("retain", {}) else r)
                             for c, r in self.taxes]
            over = {x["code"]: x for x in t.get("statistics", [])}
            term["stats"] = [
                (c, over[c].get("mode", "host"),
                 ratio(over[c]["home"]) if over[c].get("mode") == "split" else None)
                if c in over else (c, m, r) for c, m, r in self.stats]
            term["floor"] = fen(t["floor"]) if "floor" in t else None
            term["cap"] = fen(t["cap"]) if "cap" in t else None
            self.terms.append(term)

    def term_index(self, key):
        idx = None
        for i, t in enumerate(self.terms):
            if t["key"] <= key:
                idx = i
        return idx

    def segment(self, key):
        """Planned periods (keys) of the segment holding key, and its term."""
        ti = self.term_index(key)
        lo = max(self.start, self.terms[ti]["key"])
        hi = self.terms[ti + 1]["key"] if ti + 1 < len(self.terms) else None
        out = []
        for i in range(1, self.per_year + 1):
            k = (key[0], i)
            if k < lo or (hi is not None and k >= hi):
                continue
            if self.end is not None and k > self.end:
                continue
            out.append(k)
        return out, self.terms[ti]

    def base(self, fig, term):
        b = sum(rnd(fig["taxes"].get(c, 0) * r) for c, r in term["taxes"])
        return b - fig["deductions"]


def band_h(bands, c, months):
    """H(C), each band's limit the yearly `upto` scaled to the segment."""
    if c < 0:
        return bands[0][1] * c
    total = Fraction(0)
    lo = 0
    for upto, r in bands:
        lim = None if upto is None else rnd(Fraction(upto * months, 12))
        hi = c if lim is None else min(c, lim)
        if hi > lo:
            total += (hi - lo) * r
        if lim is None or c <= lim:
            break
        lo = lim
    return total


class Engine:
    def __init__(self, agreements):
        self.ags = {a["id"]: Agreement(a) for a in agreements}
        self.state = {}

    def st(self, aid):
        return self.state.setdefault(aid, {
            "ids": {"host": {}, "home": {}},
            "latest": {},          # period key -> role -> (id, hash, figures)
            "effective": {},       # period key -> (figures, [hashes])
            "disputes": set(),
            "settled": {},         # period key -> values
        })

    def validate(self, text):
        try:
            obj = json.loads(text, object_pairs_hook=_no_dupes)
        except (ValueError, RecursionError):
            raise Refused("not JSON")
        if not isinstance(obj, dict):
            raise Refused("not an object")
        for k in obj:
            if k not in REPORT_KEYS:
                raise Refused("unknown field " + k)
        for k in ("report_id", "agreement", "period", "role", "taxes"):
            if k not in obj:
                raise Refused("missing " + k)
        if not isinstance(obj["report_id"], str) or not REPORT_ID_RE.match(obj["report_id"]):
            raise Refused("report_id")
        ag = self.ags.get(obj["agreement"]) if isinstance(obj["agreement"], str) else None
        if ag is None:
            raise Refused("agreement")
        key = period_key(ag.cadence, obj["period"]) if isinstance(obj["period"], str) else None
        if key is None or key < ag.start or (ag.end and key > ag.end):
            raise Refused("period")
        if obj["role"] not in ("host", "home") or (obj["role"] == "home" and not ag.confirm):
            raise Refused("role")
        codes = {c for c, _ in ag.taxes}
        if not isinstance(obj["taxes"], dict):
            raise Refused("taxes")
        taxes = {}
        for c, v in obj["taxes"].items():
            if c not in codes:
                raise Refused("taxes." + c)
            try:
                taxes[c] = fen(v)
            except ValueError:
                raise Refused("taxes." + c)
        ded = 0
        if "deductions" in obj:
            try:
                ded = fen(obj["deductions"])
            except ValueError:
                raise Refused("deductions")
        stats = {}
        if "statistics" in obj:
            if not isinstance(obj["statistics"], dict):
                raise Refused("statistics")
            scodes = {c for c, _, _ in ag.stats}
            for c, v in obj["statistics"].items():
                if c not in scodes:
                    raise Refused("statistics." + c)
                try:
                    stats[c] = fen(v)
                except ValueError:
                    raise Refused("statistics." + c)
        if "supersedes" in obj and (not isinstance(obj["supersedes"], str)
                                    or not REPORT_ID_RE.match(obj["supersedes"])):
            raise Refused("supersedes")
        fig = {"taxes": {c: taxes.get(c, 0) for c in codes},
               "deductions": ded,
               "stats": {c: stats.get(c, 0) for c, _, _ in ag.stats}}
        return obj, ag, key, fig

    def submit(self, text):
        """Entries (dicts) the report causes; raises Refused (no change)."""
        obj, ag, key, fig = self.validate(text)
        saved = copy.deepcopy(self.state.get(ag.id))
        try:
            return self._submit(obj, ag, key, fig)
        except Refused:
            if saved is None:
                self.state.pop(ag.id, None)
            else:
                self.state[ag.id] = saved
            raise

    def _submit(self, obj, ag, key, fig):
        st = self.st(ag.id)
        role = obj["role"]
        c = canon(obj)
        h = hashlib.sha256(c.encode()).hexdigest()
        prev = st["ids"][role].get(obj["report_id"])
        if prev is not None:
            if prev == c:
                return []
            raise Refused("report_id reused")
        latest = st["latest"].get(key, {}).get(role)
        if latest is None:
            if "supersedes" in obj:
                raise Refused("supersedes names no report")
        elif obj.get("supersedes") != latest[0]:
            raise Refused("supersedes")
        st["ids"][role][obj["report_id"]] = c
        st["latest"].setdefault(key, {})[role] = (obj["report_id"], h, fig)
        entries = [{"type": "report", "sha256": h, "report": obj}]

        lt = st["latest"][key]
        if not ag.confirm:
            st["effective"][key] = (fig, [h])
        elif "host" in lt and "home" in lt:
            hf, hh = lt["host"][2], lt["host"][1]
            mf, mh = lt["home"][2], lt["home"][1]
            if hf == mf:
                st["effective"][key] = (hf, [hh, mh])
            elif (hh, mh) not in st["disputes"]:
                st["disputes"].add((hh, mh))
                entries.append({"type": "dispute", "agreement": ag.id,
                                "period": period_str(ag.cadence, key),
                                "host_report": hh, "home_report": mh})
        entries += self.resettle(ag, st, key, h)
        # Every amount written, and every total of the year, is a §2 amount.
        limit = 10 ** 15 - 1
        def val(x):
            w, f = x.lstrip("-").split(".")
            return (int(w) * 100 + int(f)) * (-1 if x.startswith("-") else 1)
        for e in entries:
            if e["type"] not in ("settlement", "adjustment"):
                continue
            vals = [e[k] for k in ("base", "home", "host", "floor_topup")]
            vals += list(e["beneficiaries"].values())
            vals += [x for v in e["statistics"].values() for x in v.values()]
            if any(abs(val(x)) > limit for x in vals):
                raise Refused("amounts too large")
        tot = {}
        for p, v in st["settled"].items():
            if p[0] != key[0]:
                continue
            for k in ("base", "home", "host", "floor_topup"):
                tot[k] = tot.get(k, 0) + v[k]
            for b, x in v["bens"].items():
                tot["b." + b] = tot.get("b." + b, 0) + x
            for c, (x, y) in v["stats"].items():
                tot["s.h." + c] = tot.get("s.h." + c, 0) + x
                tot["s.o." + c] = tot.get("s.o." + c, 0) + y
            if any(abs(x) > limit for x in list(v["bens"].values()) +
                   [z for pair in v["stats"].values() for z in pair] +
                   [v[k] for k in ("base", "home", "host", "floor_topup")]):
                raise Refused("amounts too large")
        if any(abs(x) > limit for x in tot.values()):
            raise Refused("amounts too large")
        return entries

    def resettle(self, ag, st, key, cause):
        plan, term = ag.segment(key)
        n = len(plan)
        months = n * ag.months_per
        adjustments, settlements = [], []
        c = 0
        r_prev = 0
        k_prev = [0] * len(ag.bens)
        m_i = 0
        for i, p in enumerate(plan):
            eff = st["effective"].get(p)
            if eff is None:
                break
            fig, hashes = eff
            b = ag.base(fig, term)
            c += b
            m_i += ag.months_per
            if "annual" in term:
                r = rnd(Fraction(term["annual"] * m_i, 12))
            else:
                if "home" in term:
                    r = rnd(term["home"] * c)
                else:
                    r = rnd(band_h(term["bands"], c, months))
                if term["cap"] is not None:
                    r = min(r, rnd(Fraction(term["cap"] * months, 12)))
            topup = 0
            if i == n - 1 and term.get("floor") is not None:
                topup = max(0, rnd(Fraction(term["floor"] * months, 12)) - r)
            home = r - r_prev + topup
            kk = alloc(r + topup, [w for _, w in ag.bens]) if ag.bens else []
            bens = {bid: kk[j] - k_prev[j] for j, (bid, _) in enumerate(ag.bens)}
            stats = {}
            for code, mode, sr in term["stats"]:
                v = fig["stats"][code]
                if mode == "host":
                    stats[code] = (0, v)
                elif mode == "home":
                    stats[code] = (v, 0)
                elif mode == "both":
                    stats[code] = (v, v)
                else:
                    hv = rnd(v * sr)
                    stats[code] = (hv, v - hv)
            vals = {"base": b, "home": home, "host": b - home,
                    "floor_topup": topup, "bens": bens, "stats": stats}
            old = st["settled"].get(p)
            ps = period_str(ag.cadence, p)
            if old is None:
                settlements.append(dict(self.render(vals), type="settlement",
                                        agreement=ag.id, period=ps,
                                        term=term["from"], reports=list(hashes)))
            elif old != vals:
                delta = {
                    "base": vals["base"] - old["base"],
                    "home": vals["home"] - old["home"],
                    "host": vals["host"] - old["host"],
                    "floor_topup": vals["floor_topup"] - old["floor_topup"],
                    "bens": {k: vals["bens"][k] - old["bens"][k] for k in vals["bens"]},
                    "stats": {k: (vals["stats"][k][0] - old["stats"][k][0],
                                  vals["stats"][k][1] - old["stats"][k][1])
                              for k in vals["stats"]},
                }
                adjustments.append(dict(self.render(delta), type="adjustment",
                                        agreement=ag.id, period=ps, cause=cause))
            st["settled"][p] = vals
            r_prev = r
            k_prev = kk
        return adjustments + settlements

    @staticmethod
    def render(v):
        return {
            "base": fmt(v["base"]), "home": fmt(v["home"]),
            "host": fmt(v["host"]), "floor_topup": fmt(v["floor_topup"]),
            "beneficiaries": {k: fmt(x) for k, x in v["bens"].items()},
            "statistics": {k: {"home": fmt(a), "host": fmt(b)}
                           for k, (a, b) in v["stats"].items()},
        }


def _no_dupes(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key " + k)
        d[k] = v
    return d


# A small reader for the libconfig subset agreements use: settings
# `name = value;` (or `:`), groups { }, lists ( ), arrays [ ], strings with
# escapes, integers, booleans and #, //, /* */ comments. Enough to read the
# rules/ files into the dicts Agreement takes; not a validator.
_TOKEN = re.compile(r'''
    (?P<ws>\s+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|[0-9]+)L?)
  | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,{}()\[\]])
''', re.S | re.X)


def _tokens(text):
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError("libconfig: bad input at %d" % pos)
        pos = m.end()
        if m.lastgroup != "ws":
            yield m.lastgroup, m.group()


def read_conf(text):
    toks = list(_tokens(text))
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else (None, None)

    def take():
        t = peek()
        pos[0] += 1
        return t

    def value():
        kind, tok = take()
        if kind == "str":
            s = json.loads(tok)
            while peek()[0] == "str":      # adjacent strings concatenate
                s += json.loads(take()[1])
            return s
        if kind == "num":
            return int(tok.rstrip("L"), 0)
        if kind == "name" and tok.lower() in ("true", "false"):
            return tok.lower() == "true"
        if tok == "{":
            return settings("}")
        if tok in "([":
            close = ")" if tok == "(" else "]"
            out = []
            while peek()[1] != close:
                out.append(value())
                if peek()[1] == ",":
                    take()
            take()
            return out
        raise ValueError("libconfig: unexpected %r" % tok)

    def settings(close):
        d = {}
        while peek()[1] != close:
            kind, name = take()
            sep = take()[1]
            if kind != "name" or sep not in ("=", ":"):
                raise ValueError("libconfig: expected a setting")
            d[name] = value()
            if peek()[1] in (";", ","):
                take()
        take()
        return d

    toks.append(("punct", "\0"))
    return settings("\0")
