#!/usr/bin/env bash
# The first thing a newcomer runs: counterfactuals for Fashion-MNIST test images with the
# shipped classifier. Usage: scripts/demo.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/demo}
cd "$(dirname "$0")/.."
"$CFX" explain --model models/fashion-mnist-cnn.pt --data fashion-mnist --split test --n 32 \
  --target auto --method pixel --seed 0 --out "$OUT/pixel"
echo
echo "demo: counterfactual images are in $OUT/pixel/images (original, counterfactual, diff),"
echo "      per-item numbers in $OUT/pixel/result.json"
