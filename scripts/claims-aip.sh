#!/usr/bin/env bash
# Reproduces docs/claims-aip.md: AIP against pixel inversion and latent-space edits on the same
# 100 test items (targets: each item's runner-up class), on shapes, MNIST and Fashion-MNIST, scored by
# `cfx eval` — validity, oracle validity, attribute changes (MNAC through the attribute
# classifier), IM1/IM2, seconds per item; for AIP also how many reconstructions already had
# the target and the validity without them (reconstruction_already_target, *_searched).
# Usage: scripts/claims-aip.sh [CFX_BINARY] [OUT_DIR]   (~15 min on 2 cores)
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-aip}
cd "$(dirname "$0")/.."
run() { echo "+ $*" >&2; "$@"; }
for d in shapes mnist fashion-mnist; do
  run "$CFX" -q eval --model "models/$d-cnn.pt" --data "$d" --split test --n 100 \
    --methods pixel,latent,aip --oracle "models/$d-oracle-resnet.pt" \
    --autoencoders "models/$d-ae.pt" --cout-steps 0 --seed 1 --out "$OUT/$d"
done
