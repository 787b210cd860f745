#!/usr/bin/env python3
"""The year statement of SPEC §5a, from ledger entries alone (independent of
the engine): statement.py ENTRIES.jsonl RULES_DIR AGREEMENT YEAR

Sums each planned period's settlement and adjustment entries field by field,
and prints {"sha256": H, "statement": S} in canonical JSON (what `shanhai
statement --format json` prints), or exits 3 when the year is incomplete.
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402


def val(s):
    w, f = s.lstrip("-").split(".")
    return (int(w) * 100 + int(f)) * (-1 if s.startswith("-") else 1)


def fmt(v):
    return "%s%d.%02d" % ("-" if v < 0 else "", abs(v) // 100, abs(v) % 100)


def planned(ag, year):
    keys = [(year, i) for i in range(1, ag.per_year + 1)]
    return [k for k in keys if k >= ag.start and (ag.end is None or k <= ag.end)]


def main():
    entries, rules, aid, year = sys.argv[1:5]
    conf = open(os.path.join(rules, aid + ".conf"), encoding="utf-8").read()
    ag = reference.Agreement(reference.read_conf(conf))
    rows = {}
    for line in open(entries, encoding="utf-8"):
        if not line.strip():
            continue
        e = json.loads(line)
        if e.get("agreement") != aid or e.get("type") not in ("settlement", "adjustment"):
            continue
        r = rows.setdefault(e["period"], {"base": 0, "home": 0, "host": 0,
                                          "floor_topup": 0, "beneficiaries": {},
                                          "statistics": {}})
        if e["type"] == "settlement":
            r["term"] = e["term"]
        for k in ("base", "home", "host", "floor_topup"):
            r[k] += val(e[k])
        for k, v in e["beneficiaries"].items():
            r["beneficiaries"][k] = r["beneficiaries"].get(k, 0) + val(v)
        for k, v in e["statistics"].items():
            s = r["statistics"].setdefault(k, {"home": 0, "host": 0})
            s["home"] += val(v["home"])
            s["host"] += val(v["host"])
    plan = [reference.period_str(ag.cadence, k) for k in planned(ag, int(year))]
    if not plan or any(p not in rows for p in plan):
        return 3

    def render(r):
        return {"base": fmt(r["base"]), "home": fmt(r["home"]), "host": fmt(r["host"]),
                "floor_topup": fmt(r["floor_topup"]),
                "beneficiaries": {k: fmt(v) for k, v in r["beneficiaries"].items()},
                "statistics": {k: {"home": fmt(v["home"]), "host": fmt(v["host"])}
                               for k, v in r["statistics"].items()}}
    tot = {"base": 0, "home": 0, "host": 0, "floor_topup": 0, "beneficiaries": {},
           "statistics": {}}
    periods = []
    for p in plan:
        r = rows[p]
        periods.append(dict(render(r), period=p, term=r["term"]))
        for k in ("base", "home", "host", "floor_topup"):
            tot[k] += r[k]
        for k, v in r["beneficiaries"].items():
            tot["beneficiaries"][k] = tot["beneficiaries"].get(k, 0) + v
        for k, v in r["statistics"].items():
            s = tot["statistics"].setdefault(k, {"home": 0, "host": 0})
            s["home"] += v["home"]
            s["host"] += v["host"]
    st = {"agreement": aid, "year": year, "home": ag.d["home"], "host": ag.d["host"],
          "periods": periods, "total": render(tot)}
    canon = reference.canon(st)
    print(reference.canon({"sha256": hashlib.sha256(canon.encode()).hexdigest(),
                           "statement": st}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
