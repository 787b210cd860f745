#!/usr/bin/env python3
"""The reference's `shanhai settle`: python3 settle.py RULES_DIR REPORTS.jsonl

Prints the entries as canonical JSON lines and refusals as FILE:LINE: reason
on stderr, like the real tool, so the two can be compared line for line.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402


def main():
    rules_dir, reports = sys.argv[1], sys.argv[2]
    ags = []
    for name in sorted(os.listdir(rules_dir)):
        if name.endswith(".conf"):
            with open(os.path.join(rules_dir, name), encoding="utf-8") as f:
                ags.append(reference.read_conf(f.read()))
    eng = reference.Engine(ags)
    rc = 0
    with open(reports, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                for e in eng.submit(line):
                    print(reference.canon(e))
            except reference.Refused as e:
                print("%s:%d: %s" % (reports, n, e), file=sys.stderr)
                rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
