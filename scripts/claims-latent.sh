#!/usr/bin/env bash
# Reproduces docs/claims-latent.md: global causal scores of the shipped shapes classifiers
# (two known rules) and of the MNIST classifier for the digits 4 and 9, plus example latent
# edits. Usage: scripts/claims-latent.sh [CFX_BINARY] [OUT_DIR]   (~10 min on 2 cores)
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-latent}
cd "$(dirname "$0")/.."
run() { echo "+ $*" >&2; "$@"; }
# shapes, rule "red circle vs other": colour and shape should matter, nothing else.
run "$CFX" global -q --model models/shapes-red-circle-cnn.pt --outcome "red circle" \
  --samples 1000 --seed 1 --out "$OUT/shapes-red-circle"
# shapes, rule "shape": the outcome "circle" should rest on circle (and its exclusive
# partners), never on colour, size, position, rotation or background.
run "$CFX" global -q --model models/shapes-cnn.pt --outcome circle --samples 1000 --seed 1 \
  --out "$OUT/shapes-circle"
# MNIST, 4 vs 9: which stroke properties make a 4 a 4 (and a 9 a 9)?
run "$CFX" global -q --model models/mnist-cnn.pt --outcome 4 --samples 2000 --seed 1 \
  --out "$OUT/mnist-4"
run "$CFX" global -q --model models/mnist-cnn.pt --outcome 9 --samples 2000 --seed 1 \
  --out "$OUT/mnist-9"
# Example edits: shapes towards each image's runner-up class, MNIST towards the runner-up.
run "$CFX" explain -q --model models/shapes-cnn.pt --data shapes --split test --n 100 \
  --method latent --seed 1 --out "$OUT/shapes-edits"
run "$CFX" explain -q --model models/mnist-cnn.pt --data mnist --split test --n 100 \
  --method latent --seed 1 --out "$OUT/mnist-edits"
