#!/usr/bin/env python3
"""Input for bench_settle.sh: gen_settle.py OUTDIR [AGREEMENTS] [YEARS] [SEED]

Writes OUTDIR/rules/*.conf (monthly agreements with every term kind, floors,
caps, beneficiaries and statistics, and terms that override retention and
attribution) and OUTDIR/reports.jsonl: every month of
YEARS years for every agreement, in calendar order, with about one in ten
months corrected a few months later (supersedes). Deterministic per SEED.
Prints the number of reports.
"""
import json
import os
import random
import sys

RATIOS = ["50%", "40%", "60%", "1/3", "2/7", "12.5%", "33.333333%"]


def fmt(v):
    s = "-" if v < 0 else ""
    v = abs(v)
    return "%s%d.%02d" % (s, v // 100, v % 100)


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    years = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    y0 = 2017
    os.makedirs(os.path.join(out, "rules"), exist_ok=True)
    for a in range(n):
        terms = ['{ from = "%d-01"; fixed = { principal = "%s"; rate = "10%%"; }; }'
                 % (y0, fmt(rng.randint(10 ** 8, 10 ** 10)))]
        # SPEC v2: the later terms override retention and an attribution.
        terms.append('{ from = "%d-01"; home = "%s"; floor = "%s"; retain = { vat = "25%%"; }; }'
                     % (y0 + 3, rng.choice(RATIOS), fmt(rng.randint(10 ** 6, 10 ** 8))))
        terms.append('{ from = "%d-07"; bands = ( { upto = "%s"; home = "0%%"; }, '
                     '{ home = "%s"; } ); cap = "%s"; retain = { vat = "45%%"; cit = "50%%"; }; '
                     'statistics = ( { code = "gdp"; mode = "home"; } ); }'
                     % (y0 + 6, fmt(rng.randint(10 ** 7, 10 ** 9)), rng.choice(RATIOS),
                        fmt(rng.randint(10 ** 9, 10 ** 10))))
        with open(os.path.join(out, "rules", "ag-%04d.conf" % a), "w") as f:
            f.write('id = "ag-%04d"; home = "33%04d"; host = "34%04d";\n' % (a, a, a))
            f.write('cadence = "monthly"; start = "%d-01";\n' % y0)
            f.write('taxes = ( { code = "vat"; retain = "50%"; }, { code = "cit"; retain = "40%"; }, '
                    '{ code = "pit"; } );\n')
            f.write('statistics = ( { code = "output"; mode = "split"; home = "50%"; }, '
                    '{ code = "gdp"; mode = "both"; } );\n')
            f.write('beneficiaries = ( { id = "v1"; weight = 3; }, { id = "v2"; weight = 2; } );\n')
            f.write("terms = ( %s );\n" % ", ".join(terms))
    count = 0
    pending = []                      # (due index, agreement, period, latest id)
    with open(os.path.join(out, "reports.jsonl"), "w") as f:
        for m in range(years * 12):
            period = "%d-%02d" % (y0 + m // 12, m % 12 + 1)
            for a in range(n):
                rid = "r-%04d-%s" % (a, period)
                rep = {"report_id": rid, "agreement": "ag-%04d" % a, "period": period,
                       "role": "host",
                       "taxes": {"vat": fmt(rng.randint(10 ** 7, 10 ** 9)),
                                 "cit": fmt(rng.randint(10 ** 6, 10 ** 8)),
                                 "pit": fmt(rng.randint(0, 10 ** 7))},
                       "statistics": {"output": fmt(rng.randint(10 ** 8, 10 ** 10)),
                                      "gdp": fmt(rng.randint(10 ** 8, 10 ** 10))}}
                f.write(json.dumps(rep, separators=(",", ":")) + "\n")
                count += 1
                if rng.random() < 0.1 and m % 12 < 11:
                    pending.append((m + rng.randint(1, 11 - m % 12), a, period, rid))
            keep = []
            for due, a, per, rid in pending:
                if due != m:
                    keep.append((due, a, per, rid))
                    continue
                rep = {"report_id": rid + "-r1", "agreement": "ag-%04d" % a, "period": per,
                       "role": "host",
                       "taxes": {"vat": fmt(rng.randint(10 ** 7, 10 ** 9)),
                                 "cit": fmt(rng.randint(10 ** 6, 10 ** 8))},
                       "deductions": fmt(rng.randint(0, 10 ** 6)),
                       "supersedes": rid}
                f.write(json.dumps(rep, separators=(",", ":")) + "\n")
                count += 1
            pending = keep
    print(count)


if __name__ == "__main__":
    main()
