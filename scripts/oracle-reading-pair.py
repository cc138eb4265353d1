#!/usr/bin/env python3
"""Paired comparison of two scripts/oracle-reading.py runs on the same items (their --json
files; docs/claims-aip.md, "What the MNIST and Fashion-MNIST oracles read"): per oracle, how
many items each run's counterfactual convinces, and the exact McNemar test (b: only the
second run's does, c: only the first's).
Usage: scripts/oracle-reading-pair.py FIRST.json SECOND.json"""
import json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired import mcnemar_exact, wilson  # noqa: E402


def main():
    first, second = (json.load(open(p)) for p in sys.argv[1:3])
    print(f"{first['cvae']} (confidence {first['confidence']}) -> {second['cvae']} "
          f"(confidence {second['confidence']})")
    for oracle, a in first["agrees"].items():
        if oracle not in second["agrees"]:
            print(f"  {oracle}: not in the second run")
            continue
        b = second["agrees"][oracle]
        assert len(a) == len(b), "the two runs have different items"
        gained = sum(y and not x for x, y in zip(a, b))
        lost = sum(x and not y for x, y in zip(a, b))
        n = len(a)
        lo, hi = wilson(sum(b), n)
        print(f"  {oracle}: {sum(a)} -> {sum(b)} of {n} ({sum(b) / n:.2f} [{lo:.2f}, {hi:.2f}]); "
              f"gained {gained}, lost {lost}, exact McNemar p {mcnemar_exact(gained, lost):.2g}")


if __name__ == "__main__":
    main()
