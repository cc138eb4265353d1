#!/usr/bin/env bash
# The first thing a newcomer runs: counterfactuals for Fashion-MNIST test images with the
# shipped classifiers, by vanilla inversion (pixel) and by DISC. Usage:
# scripts/demo.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/demo}
cd "$(dirname "$0")/.."
"$CFX" explain --model models/fashion-mnist-cnn.pt --data fashion-mnist --split test --n 32 \
  --target auto --method pixel --seed 0 --out "$OUT/pixel"
"$CFX" explain --model models/fashion-mnist-cnn-duq.pt --data fashion-mnist --split test --n 16 \
  --target auto --method disc --seed 0 --out "$OUT/disc"
echo
echo "demo: open $OUT/pixel/report.html and $OUT/disc/report.html in a browser"
echo "      (every item's original, counterfactual, difference and curves; offline)."
echo "      Counterfactual images are in $OUT/pixel/images and $OUT/disc/images"
echo "      (original, counterfactual, diff; for disc also the stage strips x -> x̄),"
echo "      per-item numbers in $OUT/*/result.json"
