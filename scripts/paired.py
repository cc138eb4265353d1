#!/usr/bin/env python3
"""Paired comparison of cfx eval runs over seeds (docs/claims-inversion.md).

Usage: paired.py OUT [--metrics a,b] [--rate KEY] [--diff a,b] NAME=REL [NAME=REL ...]
Each REL is a method folder below OUT/seed*/ (e.g. defaults/dip-aux), or several joined by '+'
(e.g. inpainter/items0-49/fido+inpainter/items50-99/fido: one run's items in chunks, their
items concatenated in order; a seed counts only when every part is there). The first NAME is
the baseline. Prints, per configuration, each metric's mean over seeds with a 95% interval (t over
the per-seed means, n = seeds), FID when eval.json has it, and against the baseline: for the
rate KEY (default oracle_validity; none: no rate) the exact McNemar test on item×seed pairs (b: items where
only this configuration succeeds, c: only the baseline), for the --diff metrics (default
im1,l1) the mean paired difference with a 95% normal interval over item×seed pairs. Only the
standard library."""
import argparse, glob, json, math, os, statistics

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447}


def load(out, rel):
    runs = {}
    for seed_dir in sorted(glob.glob(os.path.join(out, "seed*"))):
        paths = [os.path.join(seed_dir, part, "result.json") for part in rel.split("+")]
        if all(os.path.exists(p) for p in paths):
            items = []
            for path in paths:
                with open(path) as f:
                    items += json.load(f)["items"]
            runs[os.path.basename(seed_dir)] = items
    return runs


def eval_fid(out, rel):
    vals = []
    if "+" in rel:  # FID is a statistic of a whole run; chunks have none to combine
        return vals
    method = os.path.basename(rel)
    for seed_dir in sorted(glob.glob(os.path.join(out, "seed*"))):
        path = os.path.join(seed_dir, os.path.dirname(rel), "eval.json")
        if os.path.exists(path):
            with open(path) as f:
                for m in json.load(f)["methods"]:
                    if m["method"] == method and "fid" in m["summary"]:
                        vals.append(m["summary"]["fid"]["mean"])
    return vals


def over_seeds(vals):
    m = statistics.mean(vals)
    if len(vals) < 2:
        return f"{m:.3f}"
    h = T975.get(len(vals) - 1, 1.96) * statistics.stdev(vals) / math.sqrt(len(vals))
    return f"{m:.3f} ± {h:.3f}"


def wilson(k, n, z=1.96):
    """The Wilson score interval (95% at z 1.96) of the rate k / n."""
    p, d = k / n, 1 + z * z / n
    c, h = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (c - h) / d, (c + h) / d


def mcnemar_exact(b, c):
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    p = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--metrics", default="validity,oracle_validity,l1,im1,steps")
    ap.add_argument("--rate", default="oracle_validity")
    ap.add_argument("--diff", default="im1,l1")
    ap.add_argument("configs", nargs="+")
    a = ap.parse_args()
    specs = [c.split("=", 1) for c in a.configs]
    metrics, diffs = a.metrics.split(","), a.diff.split(",")
    data = {name: load(a.out, rel) for name, rel in specs}
    base_name = specs[0][0]
    base = data[base_name]
    rate = a.rate != "none"
    rate_head = f"vs {base_name}: {a.rate} b/c, McNemar p | " if rate else ""
    print(f"| config | seeds | {' | '.join(metrics)} | FID | {rate_head}"
          + " | ".join("Δ" + d for d in diffs) + " |")
    print("|---" * (len(metrics) + 3 + rate + len(diffs)) + "|")
    for name, rel in specs:
        runs = data[name]
        if not runs:
            print(f"| {name} | 0 | (no results under {rel}) |")
            continue
        cells = []
        for k in metrics:
            per_seed = [statistics.mean(float(it[k]) for it in items if it.get(k) is not None)
                        for items in runs.values()]
            cells.append(over_seeds(per_seed))
        fid = eval_fid(a.out, rel)
        cells.append(over_seeds(fid) if fid else "–")
        if name == base_name:
            cells += ["–"] * (rate + len(diffs))
        else:
            b = c = 0
            d = {k: [] for k in diffs}
            for seed, items in runs.items():
                for it, bt in zip(items, base.get(seed, [])):
                    assert it["index"] == bt["index"]
                    if rate:
                        o, ob = bool(it[a.rate]), bool(bt[a.rate])
                        b += o and not ob
                        c += ob and not o
                    for k in diffs:
                        if it.get(k) is not None and bt.get(k) is not None:
                            d[k].append(it[k] - bt[k])
            if rate:
                cells.append(f"{b}/{c}, p = {mcnemar_exact(b, c):.3g}")
            for k in diffs:
                v = d[k]
                h = 1.96 * statistics.stdev(v) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
                cells.append(f"{statistics.mean(v):+.3f} ± {h:.3f} (n {len(v)})" if v else "–")
        print(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
