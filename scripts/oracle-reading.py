"""What the MNIST and Fashion-MNIST oracles read in generated images (docs/claims-aip.md,
"What the MNIST and Fashion-MNIST oracles read"). On shapes the shipped resnet oracle reads
the cvae's soft edges as circles, so its agreement with AIP measured the oracle's misreading as
much as AIP. This asks the same of the two other datasets: the accuracy of the classifier F
and of each oracle on the test images as drawn, blurred by a Gaussian of σ px, and on the
cvae's reconstructions G(E(x), D(x)) (AIP with 0 steps); and, on AIP's counterfactuals at the
paper's stop or --confidence (first N test items, runner-up targets, seed 1), what each oracle
decides: the target, the item's original class, or a third class.

    PYTHONPATH=build/python /usr/bin/python3 scripts/oracle-reading.py mnist \
        [--n 1000] [--aip-n 300] [--confidence 0.5] [--cvae CVAE.pt] \
        [--oracle models/mnist-oracle-resnet.pt] [--oracle OTHER.pt]

About 3 minutes per dataset at n 1000 and aip-n 300 on two threads (2026-12-05).
"""

import argparse
import json
import os
import sys

import torch

import cfx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired import mcnemar_exact, wilson  # noqa: E402
from importlib import import_module  # noqa: E402

# The renderer study's helpers: Gaussian blur, a classifier's decisions, cvae reconstructions.
_sharpness = import_module("shape-sharpness")
blur, predict, reconstructions = (_sharpness.blur, _sharpness.predict,
                                  _sharpness.reconstructions)


def accuracy_rows(a, model, cvae, oracles, Xa, ya):
    """F's and each oracle's accuracy on n test images as drawn, blurred and reconstructed."""
    names = ["F"] + [os.path.basename(o) for o in oracles]
    print(f"n = {len(Xa)} test images\n")
    print("| images | " + " | ".join(f"{m}: accuracy" for m in names) +
          " | F and first oracle agree |")
    print("|---" * (len(names) + 2) + "|")
    sets = [("as drawn", Xa)] + [(f"blurred σ {s} px", blur(Xa, s)) for s in (0.5, 1.0)]
    sets.append(("cvae reconstructions", reconstructions(model, Xa, cvae, a.threads)))
    for what, images in sets:
        preds = [predict(m, images, a.threads) for m in [model] + oracles]
        accs = [(p == ya).float().mean().item() for p in preds]
        print(f"| {what} | " + " | ".join(f"{v:.3f}" for v in accs) +
              f" | {(preds[0] == preds[1]).float().mean():.3f} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", choices=["mnist", "fashion-mnist"])
    ap.add_argument("--n", type=int, default=1000, help="test images for the accuracy rows")
    ap.add_argument("--aip-n", type=int, default=300, help="AIP counterfactuals to read")
    ap.add_argument("--oracle", action="append", help="oracle checkpoints (default: shipped)")
    ap.add_argument("--cvae", help="the generator AIP uses (default: the shipped cvae)")
    ap.add_argument("--confidence", type=float, default=0.5, help="AIP's stop (paper: 0.5)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write each oracle's per-item agreement here, for "
                    "paired comparisons between runs (scripts/paired.py's mcnemar_exact)")
    a = ap.parse_args()
    model = f"models/{a.data}-cnn.pt"
    cvae = a.cvae or f"models/{a.data}-cvae.pt"
    oracles = a.oracle or [f"models/{a.data}-oracle-resnet.pt"]
    X, y, _ = cfx.load_dataset(a.data, n=max(a.n, a.aip_n))
    print(f"{a.data}: F = {model}; cvae {cvae}\n")
    if a.n > 0:
        accuracy_rows(a, model, cvae, oracles, X[:a.n], y[:a.n])

    Xc, yc = X[:a.aip_n], y[:a.aip_n]
    e = cfx.explain(model, Xc, method="aip", cvae=cvae, seed=1, confidence=a.confidence,
                    threads=a.threads)
    target = e.targets
    original = torch.tensor([it["original_class"] for it in e.items])
    searched = torch.tensor([not it["reconstruction_already_target"] for it in e.items])
    print(f"\nAIP at confidence {a.confidence}, first {a.aip_n} test items, runner-up targets, "
          f"seed 1: valid {int(e.valid.sum())}, reconstruction already the target "
          f"{int((~searched).sum())}\n")
    print("| oracle | decides the target | original class | third class | "
          "target, searched items | reads the original correctly (on x) |")
    print("|---|---|---|---|---|---|")
    agrees = []
    for o in oracles:
        p = predict(o, e.counterfactuals, a.threads)
        px = predict(o, Xc, a.threads)
        t = p == target
        agrees.append(t)
        k = int(t.sum())
        lo, hi = wilson(k, a.aip_n)
        ks = int((t & searched).sum())
        print(f"| {os.path.basename(o)} | {k} ({k / a.aip_n:.2f} [{lo:.2f}, {hi:.2f}]) | "
              f"{int((p == original).sum())} | {int(((p != target) & (p != original)).sum())} | "
              f"{ks} of {int(searched.sum())} | {int((px == yc).sum())} |", flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"cvae": cvae, "confidence": a.confidence, "agrees": {
                os.path.basename(o): t.tolist() for o, t in zip(oracles, agrees)}}, fh)
    for o, t in zip(oracles[1:], agrees[1:]):
        b, c = int((t & ~agrees[0]).sum()), int((~t & agrees[0]).sum())
        print(f"\n{os.path.basename(o)} against {os.path.basename(oracles[0])} on the same "
              f"counterfactuals: agrees where the other does not {b}, the reverse {c}, exact "
              f"McNemar p {mcnemar_exact(b, c):.2g}")


if __name__ == "__main__":
    main()
