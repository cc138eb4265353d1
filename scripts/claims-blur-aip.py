#!/usr/bin/env python3
"""The AIP-on-shapes tables of docs/claims-aip.md ("A shape classifier that reads soft edges,
and what the shapes oracle reads") from scripts/claims-blur.sh's runs:
OUT/{shipped,blur}-F/{shipped,blur}-referee/c{0.5,0.99}/set*/aip/result.json. Per F, referee
and confidence: oracle agreement with its Wilson interval, p_target, items that converged,
L1, the items whose reconstruction already had the target and the searched ones (each with
how many the referee agrees with), and the factor of each searched item's largest attribute
change; then, per F, 0.99 against 0.5 with the blur-trained referee on the same items (exact
McNemar, mean paired Δ L1).
Usage: scripts/claims-blur-aip.py OUT"""
import collections, glob, json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired import mcnemar_exact, wilson  # noqa: E402

# Which factor each shapes attribute code belongs to.
FACTOR = {"circle": "shape", "square": "shape", "triangle": "shape", "red": "colour",
          "green": "colour", "blue": "colour", "large": "size", "left": "position",
          "top": "position", "rotated": "other", "light_background": "other"}
RUNS = [("shipped", "0.5"), ("blur", "0.5"), ("blur", "0.99")]  # (referee, confidence)


def load(out, f, referee, confidence):
    """Items keyed by (set, index), in order."""
    items = {}
    pattern = f"{out}/{f}-F/{referee}-referee/c{confidence}/set*/aip/result.json"
    for path in sorted(glob.glob(pattern)):
        part = path.split("/set")[-1].split("/")[0]
        with open(path) as fh:
            for item in json.load(fh)["items"]:
                items[(part, item["index"])] = item
    return items


def agree(items):
    return sum(bool(i["oracle_validity"]) for i in items)


def main():
    out = sys.argv[1]
    print("| F | referee | confidence | oracle agrees (n) | p_target | converged | L1 | "
          "reconstruction already the target: n, oracle agrees | searched: n, oracle agrees | "
          "largest change of the searched: shape / colour / position / size / other |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for f in ("shipped", "blur"):
        for referee, confidence in RUNS:
            items = list(load(out, f, referee, confidence).values())
            if not items:
                continue
            n, k = len(items), agree(items)
            lo, hi = wilson(k, n)
            at0 = [i for i in items if i["reconstruction_already_target"]]
            searched = [i for i in items if not i["reconstruction_already_target"]]
            big = collections.Counter(
                FACTOR[max(i["attribute_changes"], key=lambda c: abs(c["change"]))["attribute"]]
                for i in searched)
            print(f"| {f} | {referee} | {confidence} | {k / n:.2f} [{lo:.2f}, {hi:.2f}] ({n}) | "
                  f"{sum(i['target_prob'] for i in items) / n:.2f} | "
                  f"{sum(bool(i['converged']) for i in items)} | "
                  f"{sum(i['l1'] for i in items) / n:.3f} | {len(at0)}: {agree(at0)} | "
                  f"{len(searched)}: {agree(searched)} | "
                  + " / ".join(str(big[x]) for x in ("shape", "colour", "position", "size",
                                                      "other")) + " |")
    print()
    for f in ("shipped", "blur"):
        a, b = load(out, f, "blur", "0.5"), load(out, f, "blur", "0.99")
        if not a or a.keys() != b.keys():
            continue
        gained = sum(bool(b[key]["oracle_validity"]) and not a[key]["oracle_validity"] for key in a)
        lost = sum(bool(a[key]["oracle_validity"]) and not b[key]["oracle_validity"] for key in a)
        dl1 = sum(b[key]["l1"] - a[key]["l1"] for key in a) / len(a)
        print(f"- {f} F, blur-trained referee, 0.99 vs 0.5 on the same {len(a)} items: "
              f"gained / lost {gained} / {lost}, exact McNemar p {mcnemar_exact(gained, lost):.1g}, "
              f"mean Δ L1 {dl1:+.4f}")


if __name__ == "__main__":
    main()
