#!/usr/bin/env bash
# DISC against its baselines at matched proximity, and DISC's ablations (issue 15 part 3,
# docs/claims-inversion.md §1b), over 3 seeds. 200 Fashion-MNIST test images, each towards its
# runner-up class, on the classifier with a DUQ head. Pixel inversion stops at its first valid
# step, so its L1 hardly depends on the l1 weight; it is swept over the stopping confidence
# (and a weaker l1) to reach DISC's L1. Then per-configuration means over seeds and paired
# tests against DISC (scripts/paired.py). About 28 minutes on 2 cores.
# Usage: scripts/claims-disc.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-disc}
cd "$(dirname "$0")/.."
COMMON=(--model models/fashion-mnist-cnn-duq.pt --data fashion-mnist --split test --n 200
  --target auto --oracle models/fashion-mnist-oracle-resnet.pt
  --autoencoders models/fashion-mnist-ae.pt)
run() { echo "+ $*" >&2; "$@"; }
for seed in 0 1 2; do
  S=(--seed "$seed")
  D="$OUT/seed$seed"
  run "$CFX" eval -q "${COMMON[@]}" "${S[@]}" --methods pixel,dip,disc --out "$D/defaults"
  # Pixel inversion pushed to larger changes: higher stopping confidence, weaker L1.
  run "$CFX" eval -q "${COMMON[@]}" "${S[@]}" --methods pixel --set confidence=0.99 \
    --out "$D/pixel-c099"
  run "$CFX" eval -q "${COMMON[@]}" "${S[@]}" --methods pixel --set confidence=0.999 \
    --set l1=0.5 --out "$D/pixel-c0999-l1-05"
  run "$CFX" eval -q "${COMMON[@]}" "${S[@]}" --methods dip --set confidence=0.99 \
    --out "$D/dip-c099"
  # DISC's ablations: one piece off at a time.
  run "$CFX" eval -q "${COMMON[@]}" "${S[@]}" --methods disc --set stages= --out "$D/disc-no-stages"
  run "$CFX" eval -q "${COMMON[@]}" "${S[@]}" --methods disc --set feature=0 \
    --out "$D/disc-no-feature"
  run "$CFX" eval -q "${COMMON[@]}" "${S[@]}" --methods disc --set duq=0 --set bn=0 \
    --set manifold=weights --out "$D/disc-no-manifold"
  run "$CFX" eval -q "${COMMON[@]}" "${S[@]}" --methods disc --set prior=inr \
    --out "$D/disc-inr"
done
/usr/bin/python3 scripts/paired.py "$OUT" disc=defaults/disc pixel=defaults/pixel \
  dip=defaults/dip pixel-c0.99=pixel-c099/pixel pixel-c0.999-l1-0.5=pixel-c0999-l1-05/pixel \
  dip-c0.99=dip-c099/dip no-stages=disc-no-stages/disc no-feature=disc-no-feature/disc \
  no-manifold=disc-no-manifold/disc inr-prior=disc-inr/disc
