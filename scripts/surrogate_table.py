#!/usr/bin/env python3
"""Surrogate agreement over seeds (docs/claims-inversion.md §3, scripts/claims-disc-robust.sh).

Usage: surrogate_table.py OUT
Reads OUT/seed*/clean/eval.json (surrogates on the 200 queries and on the queries plus each
method's counterfactuals) and OUT/seed*/queries400/eval.json (a surrogate on 400 real images).
Prints per training set the mean agreement with F over seeds ± the t interval (n = seeds),
and each against DISC's: the mean per-seed difference ± t, and in how many seeds DISC's
surrogate agreed more. Only the standard library."""
import glob, json, math, os, statistics, sys

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447}


def interval(vals):
    m = statistics.mean(vals)
    if len(vals) < 2:
        return m, 0.0
    return m, T975.get(len(vals) - 1, 1.96) * statistics.stdev(vals) / math.sqrt(len(vals))


def main():
    out = sys.argv[1]
    rows = {}  # training set -> {seed: agreement}
    for seed_dir in sorted(glob.glob(os.path.join(out, "seed*"))):
        seed = os.path.basename(seed_dir)
        path = os.path.join(seed_dir, "clean", "eval.json")
        if os.path.exists(path):
            with open(path) as f:
                for m in json.load(f)["methods"]:
                    s = m["summary"]
                    if "surrogate_agreement_queries" not in s:
                        continue
                    rows.setdefault("200 queries only", {})[seed] = s["surrogate_agreement_queries"]
                    rows.setdefault(f"+ 200 `{m['method']}` counterfactuals", {})[seed] = \
                        s["surrogate_agreement_with_counterfactuals"]
        path = os.path.join(seed_dir, "queries400", "eval.json")
        if os.path.exists(path):
            with open(path) as f:
                s = json.load(f)["methods"][0]["summary"]
                rows.setdefault("400 real images (queries only, n 400)", {})[seed] = \
                    s["surrogate_agreement_queries"]
    ref = rows.get("+ 200 `disc` counterfactuals", {})
    print("| training images | seeds | agreement with F | DISC minus this: mean ± t | "
          "seeds DISC higher |")
    print("|---|---|---|---|---|")
    for name, by_seed in rows.items():
        m, h = interval(list(by_seed.values()))
        cells = [name, str(len(by_seed)), f"{m:.3f} ± {h:.3f}"]
        common = sorted(set(by_seed) & set(ref))
        if ref and by_seed is not ref and common:
            d = [ref[s] - by_seed[s] for s in common]
            dm, dh = interval(d)
            cells += [f"{dm:+.3f} ± {dh:.3f}", f"{sum(x > 0 for x in d)}/{len(d)}"]
        else:
            cells += ["–", "–"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
