#!/usr/bin/env bash
# FIDO's class score (the paper's log-odds vs log p) and the paper's localisation error
# (docs/claims-fido.md, "Log-odds and localisation error"): shapes, the first 50 test images,
# the predicted class, SSR with the generative in-filler and with blur, 150 steps of 4 Concrete
# samples (the budget of the tables above), λ 2, 3 seeds, and the conditional-VAE inpainter; then means over seeds and paired
# tests against log-odds with the inpainter (scripts/paired.py). About 45 minutes on 2 cores.
# Usage: scripts/claims-fido-score.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-fido-score}
cd "$(dirname "$0")/.."
run() { echo "+ $*" >&2; "$@"; }
for seed in 0 1 2; do
  for infill in inpainter blur; do
    for score in log-odds log-prob; do
      run "$CFX" eval -q --model models/shapes-cnn.pt --data shapes --split test --n 50 \
        --seed "$seed" --methods fido --set infill="$infill" --set score="$score" \
        --set steps=150 --set samples=4 --out "$OUT/seed$seed/$infill-$score"
    done
  done
  # The stochastic in-filler: the conditional-VAE inpainter, a fresh sample per Concrete draw.
  run "$CFX" eval -q --model models/shapes-cnn.pt --data shapes --split test --n 50 \
    --seed "$seed" --methods fido --set infill=inpainter \
    --set inpainter=models/shapes-inpainter-cvae.pt --set steps=150 --set samples=4 \
    --out "$OUT/seed$seed/cvae-log-odds"
done
/usr/bin/python3 scripts/paired.py "$OUT" \
  --metrics pointing_game,iou,box_iou,loc_error,saliency_area,infill_prob,deletion_auc,insertion_auc \
  --rate loc_error --diff box_iou,saliency_area \
  inpainter-log-odds=inpainter-log-odds/fido inpainter-log-prob=inpainter-log-prob/fido \
  blur-log-odds=blur-log-odds/fido blur-log-prob=blur-log-prob/fido \
  cvae-log-odds=cvae-log-odds/fido
