#!/usr/bin/env python3
"""The calibration runs of scripts/claims-fido-matched.sh as a table (docs/claims-fido.md,
"Matched sufficiency"): per in-filler and λ, the mean p_c of the last step's Concrete samples
(what the optimiser reached), p_c of the final in-filled image (the map thresholded at
θ = 0.5: the sufficiency eval reports), the share of the map left undecided (0.3 < θ < 0.7)
and the map's area, over the calibration items.

Usage: fido_calibration.py OUT   (OUT/calibration/<infill>-lambda<λ>/fido/result.json)"""
import glob
import json
import os
import sys

import numpy as np


def main(out):
    rows = []
    for path in glob.glob(os.path.join(out, "calibration", "*-lambda*", "fido", "result.json")):
        name = os.path.basename(os.path.dirname(os.path.dirname(path)))
        infill, lam = name.rsplit("-lambda", 1)
        items = json.load(open(path))["items"]
        undecided = []
        for it in items:
            m = np.load(os.path.join(os.path.dirname(path), it["saliency_map"]))
            undecided.append(float(((m > 0.3) & (m < 0.7)).mean()))
        rows.append((infill, float(lam), len(items),
                     np.mean([it["trace"]["target_prob"][-1] for it in items]),
                     np.mean([it["infill_prob"] for it in items]), np.mean(undecided),
                     np.mean([it["saliency_area"] for it in items])))
    print("| in-filler | λ | n | p_c of the samples (last step) | p_c(in-fill), map at θ 0.5 "
          "| undecided (0.3 < θ < 0.7) | area |")
    print("|---|---|---|---|---|---|---|")
    for r in sorted(rows):
        print("| %s | %g | %d | %.3f | %.3f | %.3f | %.3f |" % r)


if __name__ == "__main__":
    main(sys.argv[1])
