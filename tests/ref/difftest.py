#!/usr/bin/env python3
"""Differential test: `shanhai settle` against the independent reference.

    difftest.py --shanhai build/shanhai [--seed N] [--count N] [--keep DIR]

Generates random agreements (every cadence and term kind, floors, caps,
fractions, ends mid-year, confirm, beneficiaries, statistics, retention and
attribution by term) and random report sequences
(out of order, corrections, disputes, duplicates, refusals), runs both, and
compares stdout byte for byte and the set of refused lines. On a difference it
keeps the case in --keep (default: a temporary folder) and exits 1.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

RATIOS = ["100%", "50%", "40%", "60%", "0%", "33.333333%", "12.5%", "1/3",
          "2/7", "999999998/999999999", "0/5", "5/5", "0.000001%"]


def amount(rng, big=False):
    if big and rng.random() < 0.5:
        v = rng.randint(-10 ** 15 + 1, 10 ** 15 - 1)
    else:
        v = rng.randint(-5 * 10 ** 6, 10 ** 9) if rng.random() < 0.8 else \
            rng.randint(-10 ** 11, 10 ** 11)
    s = reference.fmt(v)
    if rng.random() < 0.2:                       # other valid spellings
        s = s.rstrip("0").rstrip(".") if "." in s else s
        if s in ("-", "", "-0"):
            s = "0"
    return s


def period(cad, y, i):
    return reference.period_str(cad, (y, i))


def gen_agreement(rng, n, big):
    cad = rng.choice(["monthly", "quarterly", "yearly"])
    per = reference.CADENCE[cad][1]
    y0 = rng.randint(2020, 2022)
    start = (y0, rng.randint(1, per))
    d = {"id": "ag-%d" % n, "home": "33%04d" % rng.randint(0, 9999),
         "cadence": cad, "start": period(cad, *start),
         "confirm": rng.random() < 0.3}
    d["host"] = "34%04d" % rng.randint(0, 9999)
    if rng.random() < 0.4:
        d["end"] = period(cad, y0 + rng.randint(0, 2), rng.randint(1, per))
        if reference.period_key(cad, d["end"]) < start:
            del d["end"]
    codes = rng.sample(["vat", "cit", "pit", "property"], rng.randint(1, 3))
    d["taxes"] = [dict({"code": c}, **({"retain": rng.choice(RATIOS)}
                                       if rng.random() < 0.7 else {}))
                  for c in codes]
    d["statistics"] = []
    for c in rng.sample(["output", "gdp", "jobs"], rng.randint(0, 2)):
        mode = rng.choice(["host", "home", "both", "split", None])
        s = {"code": c}
        if mode:
            s["mode"] = mode
        if mode == "split":
            s["home"] = rng.choice(RATIOS)
        d["statistics"].append(s)
    d["beneficiaries"] = [{"id": "b-%d" % i, "weight": rng.randint(1, 7)}
                          for i in range(rng.choice([0, 0, 1, 2, 3]))]
    terms = []
    key = start
    for t in range(rng.randint(1, 3)):
        term = {"from": period(cad, *key)}
        kind = rng.choice(["fixed", "home", "bands"])
        if kind == "fixed":
            term["fixed"] = ({"annual": amount(rng, big).lstrip("-")}
                             if rng.random() < 0.5 else
                             {"principal": amount(rng, big).lstrip("-"),
                              "rate": rng.choice(RATIOS)})
        elif kind == "home":
            term["home"] = rng.choice(RATIOS)
        else:
            bands, upto = [], 0
            for _ in range(rng.randint(1, 3)):
                # small steps too: limits that round together in a short
                # segment (the second band's slice is then empty)
                upto += rng.randint(1, 10 ** 9) if rng.random() < 0.8 else \
                    rng.randint(1, 20)
                bands.append({"upto": reference.fmt(upto), "home": rng.choice(RATIOS)})
            bands.append({"home": rng.choice(RATIOS)})
            term["bands"] = bands
        if kind != "fixed":
            fl = rng.randint(0, 10 ** 9) if rng.random() < 0.4 else None
            cp = rng.randint(0, 2 * 10 ** 9) if rng.random() < 0.4 else None
            if fl is not None and cp is not None and fl > cp:
                fl, cp = cp, fl
            if fl is not None:
                term["floor"] = reference.fmt(fl)
            if cp is not None:
                term["cap"] = reference.fmt(cp)
        if t > 0 and rng.random() < 0.5:          # SPEC v2: retention by term
            term["retain"] = {c: rng.choice(RATIOS)
                              for c in rng.sample(codes, rng.randint(1, len(codes)))}
        if t > 0 and d["statistics"] and rng.random() < 0.5:
            over = []
            for st in rng.sample(d["statistics"], rng.randint(1, len(d["statistics"]))):
                mode = rng.choice(["host", "home", "both", "split"])
                o = {"code": st["code"], "mode": mode}
                if mode == "split":
                    o["home"] = rng.choice(RATIOS)
                over.append(o)
            term["statistics"] = over
        terms.append(term)
        y, i = key
        i += rng.randint(1, per + 2)
        while i > per:
            y, i = y + 1, i - per
        key = (y, i)
    d["terms"] = terms
    return d


def conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{ " + " ".join("%s = %s;" % (k, conf_value(x)) for k, x in v.items()) + " }"
    return "( " + ", ".join(conf_value(x) for x in v) + " )"


def conf_text(d):
    lines = ["# generated by tests/ref/difftest.py"]
    for k, v in d.items():
        if isinstance(v, list) and not v:
            continue
        lines.append("%s = %s;" % (k, conf_value(v)))
    return "\n".join(lines) + "\n"


def gen_reports(rng, ag, big):
    a = reference.Agreement(ag)
    last = a.end or (a.start[0] + 1, a.per_year)
    keys = []
    y, i = a.start
    while (y, i) <= last and len(keys) < 2 * a.per_year:
        keys.append((y, i))
        i += 1
        if i > a.per_year:
            y, i = y + 1, 1
    stat_codes = [s["code"] for s in ag["statistics"]]
    tax_codes = [t["code"] for t in ag["taxes"]]
    latest = {}
    lines = []
    serial = [0]

    def figures():
        f = {"taxes": {c: amount(rng, big) for c in tax_codes if rng.random() < 0.85}}
        if rng.random() < 0.3:
            f["deductions"] = amount(rng)
        if stat_codes and rng.random() < 0.8:
            f["statistics"] = {c: amount(rng) for c in stat_codes if rng.random() < 0.8}
        return f

    def report(key, role, fig, correct=True):
        serial[0] += 1
        r = {"report_id": "%s-%d" % (role[:2], serial[0]), "agreement": ag["id"],
             "period": reference.period_str(a.cadence, key), "role": role}
        r.update(fig)
        prev = latest.get((key, role))
        if prev and correct:
            r["supersedes"] = prev
        latest[(key, role)] = r["report_id"]
        return r

    order = list(keys)
    for _ in range(len(order) // 3):              # some out of order
        x, z = rng.randrange(len(order)), rng.randrange(len(order))
        order[x], order[z] = order[z], order[x]
    for key in order:
        if rng.random() < 0.1:                    # a gap that never fills
            continue
        fig = figures()
        lines.append(report(key, "host", fig))
        if a.confirm:
            if rng.random() < 0.25:               # the home side disagrees
                bad = json.loads(json.dumps(fig))
                bad["taxes"][tax_codes[0]] = amount(rng)
                lines.append(report(key, "home", bad))
                if rng.random() < 0.7:
                    lines.append(report(key, "home", fig))
            else:
                lines.append(report(key, "home", fig))
        if rng.random() < 0.15 and lines:         # a correction of something earlier
            k2 = rng.choice(keys)
            for role in (["host", "home"] if a.confirm else ["host"]):
                if (k2, role) in latest:
                    lines.append(report(k2, role, figures()))
        if rng.random() < 0.05:                   # an identical resubmission
            lines.append(lines[rng.randrange(len(lines))])
        if rng.random() < 0.05:                   # a refusal of some kind
            bad = dict(report(key, "host", fig, correct=rng.random() < 0.5))
            what = rng.randrange(6)
            if what == 0:
                bad["taxes"] = dict(bad["taxes"], nosuch="1.00")
            elif what == 1:
                bad["period"] = reference.period_str(a.cadence, (1999, 1))
            elif what == 2:
                bad["taxes"] = {tax_codes[0]: 12}
            elif what == 3:
                bad["extra"] = "x"
            elif what == 4:
                bad["supersedes"] = "nope"
            else:
                bad["role"] = "home" if not a.confirm else "guest"
            latest.pop((key, "host"), None)
            lines.append(bad)
            # the generator's view of "latest" is now unreliable for this
            # period; the engines decide, we only compare them
    return lines


def run_case(shanhai, rng, workdir, big):
    rules = os.path.join(workdir, "rules")
    os.makedirs(rules, exist_ok=True)
    ags = [gen_agreement(rng, n, big) for n in range(rng.randint(1, 3))]
    for d in ags:
        with open(os.path.join(rules, d["id"] + ".conf"), "w") as f:
            f.write(conf_text(d))
    per_ag = [gen_reports(rng, d, big) for d in ags]
    lines = []
    while any(per_ag):                            # interleave agreements
        src = rng.choice([p for p in per_ag if p])
        lines.append(src.pop(0))
    path = os.path.join(workdir, "reports.jsonl")
    with open(path, "w") as f:
        for r in lines:
            f.write(json.dumps(r) + "\n")
    ref = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "settle.py"),
                          rules, path], capture_output=True, text=True)
    got = subprocess.run([shanhai, "settle", "--rules", rules, path],
                         capture_output=True, text=True)
    problems = []
    if ref.stdout != got.stdout:
        a, b = ref.stdout.splitlines(), got.stdout.splitlines()
        for n in range(max(len(a), len(b))):
            x = a[n] if n < len(a) else "<none>"
            y = b[n] if n < len(b) else "<none>"
            if x != y:
                problems.append("first differing entry %d:\n  reference %s\n  shanhai   %s" % (n, x, y))
                break
    refused = lambda s: sorted(int(l.split(":")[1]) for l in s.splitlines() if l.startswith(path + ":"))
    if refused(ref.stderr) != refused(got.stderr):
        problems.append("refused lines differ: reference %s, shanhai %s\n%s" %
                        (refused(ref.stderr), refused(got.stderr), got.stderr[:2000]))
    if (ref.returncode != 0) != (got.returncode != 0):
        problems.append("exit status: reference %d, shanhai %d" % (ref.returncode, got.returncode))
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shanhai", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--keep")
    args = ap.parse_args()
    base = args.keep or tempfile.mkdtemp(prefix="shanhai-diff-")
    for n in range(args.count):
        rng = random.Random(args.seed * 1000003 + n)
        work = os.path.join(base, "case-%d" % n)
        problems = run_case(args.shanhai, rng, work, big=(n % 5 == 4))
        if problems:
            print("case %d (seed %d) differs, kept in %s" % (n, args.seed, work))
            print("\n".join(problems))
            return 1
        subprocess.run(["rm", "-rf", work])
    print("%d generated cases: shanhai settle and the reference agree" % args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
