"""The statement document model (include/shanhai/document.h) of one
agreement's fiscal year, built from ledger entries and the agreement's rules
file alone, independently of the daemon's C code: the fixture the document
tests render, and what they check every rendered amount against.

usage: document_model.py RULES.conf ENTRIES.jsonl YEAR [APPROVALS]

Per planned period of the year: the settlement plus every adjustment
(SPEC §5a); the detail is the period's latest report (its effective
figures, confirm = false) with the retention in force (the settlement's
term's `retain`, else the agreement's, else 100%). The checkpoint is the
RFC 9162 root over all the entries given. APPROVALS is "none", "host"
(the host side approved the current statement: status pending) or
"both" (approved).
"""

import base64
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import canon, fen, fmt, ratio, read_conf, rnd  # noqa: E402

FIELDS = ["base", "home", "host", "floor_topup"]


def merkle_root(leaves):
    def mth(items):
        if not items:
            return hashlib.sha256(b"").digest()
        if len(items) == 1:
            return hashlib.sha256(b"\x00" + items[0]).digest()
        k = 1
        while k * 2 < len(items):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(items[:k]) + mth(items[k:])).digest()
    return mth(leaves)


def planned(rules, year):
    cad = rules["cadence"]
    if cad == "monthly":
        ps = ["%s-%02d" % (year, m) for m in range(1, 13)]
    elif cad == "quarterly":
        ps = ["%s-Q%d" % (year, q) for q in range(1, 5)]
    else:
        ps = [year]
    end = rules.get("end", "9999-99")
    return [p for p in ps if rules["start"] <= p <= end]


def main():
    rules_path, entries_path, year = sys.argv[1:4]
    approvals = sys.argv[4] if len(sys.argv) > 4 else "none"
    rules = read_conf(open(rules_path, encoding="utf-8").read())
    aid = rules["id"]
    lines = [l.rstrip("\n") for l in open(entries_path, encoding="utf-8")
             if l.strip()]
    entries = [json.loads(l) for l in lines]

    periods = planned(rules, year)
    fig, latest, adj = {}, {}, {}
    for e in entries:
        t = e["type"]
        if t == "report" and e["report"]["agreement"] == aid and \
                e["report"]["role"] == "host":
            latest[e["report"]["period"]] = e["report"]
        if e.get("agreement") != aid or e.get("period") not in periods:
            continue
        if t == "settlement":
            assert e["period"] not in fig, e["period"]
            fig[e["period"]] = {
                "term": e["term"],
                **{f: fen(e[f]) for f in FIELDS},
                "beneficiaries": {k: fen(v) for k, v in e["beneficiaries"].items()},
                "statistics": {k: [fen(v["home"]), fen(v["host"])]
                               for k, v in e["statistics"].items()},
            }
        elif t == "adjustment":
            p = fig[e["period"]]
            for f in FIELDS:
                p[f] += fen(e[f])
            for k, v in e["beneficiaries"].items():
                p["beneficiaries"][k] += fen(v)
            for k, v in e["statistics"].items():
                p["statistics"][k][0] += fen(v["home"])
                p["statistics"][k][1] += fen(v["host"])
            a = adj.setdefault(e["period"], {"count": 0, "base": 0, "home": 0, "host": 0})
            a["count"] += 1
            for f in ("base", "home", "host"):
                a[f] += fen(e[f])
    missing = [p for p in periods if p not in fig]
    if missing:
        sys.exit("%s %s: periods not settled: %s" % (aid, year, missing))

    def out(p):
        return {
            **{f: fmt(p[f]) for f in FIELDS},
            "beneficiaries": {k: fmt(v) for k, v in p["beneficiaries"].items()},
            "statistics": {k: {"home": fmt(v[0]), "host": fmt(v[1])}
                           for k, v in p["statistics"].items()},
        }

    total = {f: sum(fig[p][f] for p in periods) for f in FIELDS}
    total["beneficiaries"] = {k: sum(fig[p]["beneficiaries"][k] for p in periods)
                              for k in fig[periods[0]]["beneficiaries"]}
    total["statistics"] = {k: [sum(fig[p]["statistics"][k][i] for p in periods)
                               for i in (0, 1)]
                           for k in fig[periods[0]]["statistics"]}
    statement = {
        "agreement": aid, "year": year, "home": rules["home"], "host": rules["host"],
        "periods": [{"period": p, "term": fig[p]["term"], **out(fig[p])}
                    for p in periods],
        "total": out(total),
    }
    sha = hashlib.sha256(canon(statement).encode()).hexdigest()

    detail = []
    base_retain = {t["code"]: t.get("retain", "100%") for t in rules["taxes"]}
    terms = {t["from"]: t for t in rules["terms"]}
    for p in periods:
        r = latest[p]
        retain = dict(base_retain)
        retain.update(terms[fig[p]["term"]].get("retain", {}))
        taxes = {}
        for code in base_retain:
            amount = fen(r["taxes"].get(code, "0"))
            taxes[code] = {"amount": fmt(amount), "retain": retain[code],
                           "retained": fmt(rnd(amount * ratio(retain[code])))}
        d = {"period": p, "deductions": fmt(fen(r.get("deductions", "0"))),
             "taxes": taxes}
        if p in adj:
            d["adjustments"] = {"count": adj[p]["count"],
                                **{f: fmt(adj[p][f]) for f in ("base", "home", "host")}}
        detail.append(d)

    appr = {"host": None, "home": None}
    if approvals in ("host", "both"):
        appr["host"] = {"index": len(entries), "statement": sha,
                        "time": "%d-01-10T08:00:00Z" % (int(year) + 1)}
    if approvals == "both":
        appr["home"] = {"index": len(entries) + 1, "statement": sha,
                        "time": "%d-01-12T09:30:00Z" % (int(year) + 1)}
    agreement = {"id": aid, "title": rules.get("title", ""), "home": rules["home"],
                 "host": rules["host"], "cadence": rules["cadence"]}
    for k in ("home_name", "host_name"):
        if k in rules:
            agreement[k] = rules[k]
    root = merkle_root([l.encode() for l in lines])
    model = {
        "statement": statement, "sha256": sha,
        "status": {"none": "pending", "host": "pending", "both": "approved"}[approvals],
        "approvals": appr, "agreement": agreement, "detail": detail,
        "checkpoint": {"origin": "ledger.shanhai.test/v1", "size": len(lines),
                       "root": base64.b64encode(root).decode()},
    }
    print(json.dumps(model, ensure_ascii=False, indent=1))


main()
