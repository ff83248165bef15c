#!/usr/bin/env python3
"""Medians over runs of the pgbench-paired benchmarks:
python3 bench/lib/summarize.py bench/results/auth-token-*.tsv (or employee-roles-*.tsv)"""
import csv
import statistics
import sys

# Goals from the issues: auth-token (4) and employee-roles (6).
GOALS = {"verify": "≥ 0.5x", "exchange": "≥ 0.8x", "get": "≥ 0.5x", "deactivate": "≥ 0.6x"}


def main(paths):
    runs = [list(csv.DictReader(open(p), delimiter="\t")) for p in paths]

    def cell(run, kind, conns, tool):
        return next((r for r in run if (r["kind"], r["conns"], r["tool"]) == (kind, conns, tool)), None)

    keys = []
    for run in runs:
        for r in run:
            if (r["kind"], r["conns"]) not in keys:
                keys.append((r["kind"], r["conns"]))
    med = statistics.median
    print("| operation | conns | pgbench TPS | pgbench p50 / p99 ms | HTTP req/s | HTTP p50 / p99 ms "
          f"| ratio, median ({len(runs)} runs) | goal | HTTP errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, conns in keys:
        pairs = [(cell(r, kind, conns, "pgbench"), cell(r, kind, conns, "wrk")) for r in runs]
        pairs = [(p, h) for p, h in pairs if p and h]
        pg = [p for p, _ in pairs]
        http = [h for _, h in pairs]
        ratios = [float(h["rate"]) / float(p["rate"]) for p, h in pairs]
        f = lambda rows, col: med(float(r[col]) for r in rows)
        errors = sum(int(h["errors"].split()[0]) for h in http)
        print(f"| {kind} | {conns} | {f(pg, 'rate'):.0f} | {f(pg, 'p50_ms'):.2f} / {f(pg, 'p99_ms'):.2f} "
              f"| {f(http, 'rate'):.0f} | {f(http, 'p50_ms'):.2f} / {f(http, 'p99_ms'):.2f} "
              f"| **{med(ratios):.2f}x** ({', '.join(f'{x:.2f}' for x in ratios)}) | {GOALS.get(kind, '')} | {errors} |")


if __name__ == "__main__":
    main(sys.argv[1:])
