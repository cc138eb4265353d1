#!/usr/bin/env bash
# Reproduces the inversion-family comparison of docs/claims-inversion.md (METHODS.md §1):
# 200 Fashion-MNIST test images, each towards its runner-up class, seed 0.
# Usage: scripts/claims-inversion.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-inversion}
cd "$(dirname "$0")/.."
COMMON=(--data fashion-mnist --split test --n 200 --target auto --seed 0
  --oracle models/fashion-mnist-oracle-resnet.pt --autoencoders models/fashion-mnist-ae.pt)
run() { echo "+ $*" >&2; "$@"; }

# 1 + 3. DISC vs vanilla inversion vs DeepInversion, on the classifier with a DUQ head (DISC's
# manifold term) and on the plain one (DISC falls back to the BN prior); surrogates trained on
# (query, counterfactual) pairs are tested on 1000 held-out test images.
run "$CFX" eval -q --model models/fashion-mnist-cnn-duq.pt "${COMMON[@]}" \
  --methods pixel,deepinv,disc --surrogate 1000 --out "$OUT/duq-model"
run "$CFX" eval -q --model models/fashion-mnist-cnn.pt "${COMMON[@]}" \
  --methods pixel,deepinv,disc --out "$OUT/plain-model"
# 2. DIP with and without the auxiliary loss estimator, on the classifier trained with it.
run "$CFX" eval -q --model models/fashion-mnist-cnn-loss.pt "${COMMON[@]}" \
  --methods dip,dip-aux --out "$OUT/loss-model"
# 4. DISC on corrupted queries.
for c in noise:0.1 blur:1 contrast:0.5; do
  run "$CFX" eval -q --model models/fashion-mnist-cnn-duq.pt "${COMMON[@]}" \
    --methods disc --corrupt "$c" --out "$OUT/corrupt-${c%%:*}"
done
# Control for claim 1: DISC stops at p_t >= 0.9, pixel at 0.5; pixel held to 0.9 as well.
run "$CFX" eval -q --model models/fashion-mnist-cnn-duq.pt "${COMMON[@]}" \
  --methods pixel,deepinv --set confidence=0.9 --out "$OUT/duq-model-conf09"
# Control for claim 2: a heavier auxiliary term.
run "$CFX" eval -q --model models/fashion-mnist-cnn-loss.pt "${COMMON[@]}" \
  --methods dip-aux --set loss_head=10 --out "$OUT/loss-model-aux10"
