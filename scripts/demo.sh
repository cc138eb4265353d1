#!/usr/bin/env bash
# The first thing a newcomer runs: every built method on Fashion-MNIST test images with the
# shipped classifiers, scored side by side by `cfx eval` (one report page), and FIDO saliency
# on shapes, where the true object is known. Usage: scripts/demo.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/demo}
cd "$(dirname "$0")/.."
# Counterfactuals (pixel, deepinv, disc) towards each image's runner-up class, and saliency
# maps (fido with the shipped inpainter, bbmp, gradient, occlusion) of its predicted class.
"$CFX" eval --model models/fashion-mnist-cnn-duq.pt --data fashion-mnist --split test --n 16 \
  --methods pixel,deepinv,disc,fido,bbmp,gradient,occlusion --target auto --seed 0 \
  --oracle models/fashion-mnist-oracle-resnet.pt --autoencoders models/fashion-mnist-ae.pt \
  --out "$OUT"
"$CFX" saliency --model models/shapes-cnn.pt --data shapes --split test --n 8 --method fido \
  --seed 0 --out "$OUT/shapes-fido"
echo
echo "demo: open $OUT/report.html in a browser (every method's items, curves and metric"
echo "      table; works offline) and $OUT/shapes-fido/report.html (FIDO on shapes)."
echo "      Numbers: $OUT/eval.json, $OUT/eval.csv, $OUT/<method>/result.json;"
echo "      saliency maps as .npy in $OUT/fido/maps."
