"""Medians over gatekeeper benchmark runs: python3 bench/gatekeeper/summarize.py results/gatekeeper-*.tsv"""
import statistics
import sys
from collections import defaultdict

rows = defaultdict(list)
rss = []
tls_rss = []
runs = []
for path in sys.argv[1:]:
    run = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if f[0] == "label":
            continue
        if f[0] == "gatekeeper_peak_rss_kb":
            rss.append(int(f[1]))
            continue
        if f[0] == "gatekeeper_tls_peak_rss_kb":
            tls_rss.append(int(f[1]))
            continue
        vals = dict(req_s=float(f[2]), p50=float(f[3]), p99=float(f[4]), a_us=float(f[5]), b_us=float(f[6]), errors=f[8])
        rows[f[0]].append(vals)
        run[f[0]] = vals
    runs.append(run)


def med(label, key):
    return statistics.median(r[key] for r in rows[label])


def ratios(num, den, key="req_s"):
    out = [r[num][key] / r[den][key] for r in runs if num in r and den in r]
    return statistics.median(out), out


print("| scenario | conns | req/s | p50 / p99 µs | proxy CPU µs/req | origin CPU µs/req | errors |")
print("|---|---|---|---|---|---|---|")
LABELS = ["nginx_proxy", "haproxy_proxy", "gk_pass", "gk_token", "tls_nginx", "tls_haproxy", "tls_gk",
          "h2_nginx", "h2_haproxy", "h2_gk", "c1_origin", "c1_nginx_proxy", "c1_gk_pass", "c1_gk_token"]
for label in LABELS:
    if not rows[label]:
        continue
    conns = "1" if label.startswith("c1_") else "64"
    errs = ", ".join(sorted({r["errors"] for r in rows[label]}))
    print(f"| {label} | {conns} | {med(label, 'req_s'):.0f} | {med(label, 'p50'):.0f} / {med(label, 'p99'):.0f} | "
          f"{med(label, 'a_us'):.1f} | {med(label, 'b_us'):.1f} | {errs} |")
print()
n = len(runs)
for num, goal in [("gk_pass", "≥ 1.0x"), ("gk_token", "≥ 1.0x")]:
    if all(num in r and "nginx_proxy" in r for r in runs):
        m, each = ratios(num, "nginx_proxy")
        print(f"- {num} / nginx_proxy req/s: **{m:.2f}x** ({', '.join(f'{x:.2f}' for x in each)}), goal {goal}")


def against_faster(num, peers, goal):
    each = [r[num]["req_s"] / max(r[p]["req_s"] for p in peers) for r in runs
            if num in r and all(p in r for p in peers)]
    if each:
        print(f"- {num} / the faster of {' and '.join(peers)}: **{statistics.median(each):.2f}x** "
              f"({', '.join(f'{x:.2f}' for x in each)}), goal {goal}")


against_faster("gk_token", ["nginx_proxy", "haproxy_proxy"], "≥ 1.1x")
against_faster("tls_gk", ["tls_nginx", "tls_haproxy"], "≥ 1.0x")
against_faster("h2_gk", ["h2_haproxy"], "≥ 1.0x")
if rows["h2_gk"]:
    print("- h2_* rows: the latency columns are h2load's mean / max time for request")
if rows["c1_gk_pass"] and rows["c1_origin"]:
    hops = [r["c1_gk_pass"]["p50"] - r["c1_origin"]["p50"] for r in runs if "c1_gk_pass" in r]
    nh = [r["c1_nginx_proxy"]["p50"] - r["c1_origin"]["p50"] for r in runs if "c1_nginx_proxy" in r]
    th = [r["c1_gk_token"]["p50"] - r["c1_origin"]["p50"] for r in runs if "c1_gk_token" in r]
    print(f"- one hop at c=1, p50 over the origin direct: gatekeeper pass-through **{statistics.median(hops):.0f} µs**, "
          f"token+scope {statistics.median(th):.0f} µs, nginx {statistics.median(nh):.0f} µs (goal ≤ 40 µs)")
if rss:
    print(f"- gatekeeper peak RSS (VmHWM) after the runs: **{statistics.median(rss) / 1024:.1f} MiB** (max {max(rss) / 1024:.1f}), goal ≤ 32 MB")
if tls_rss:
    print(f"- the TLS gatekeeper's peak RSS after the TLS and HTTP/2 runs: **{statistics.median(tls_rss) / 1024:.1f} MiB** (max {max(tls_rss) / 1024:.1f}), goal ≤ 32 MB")
print(f"- runs: {n}")
