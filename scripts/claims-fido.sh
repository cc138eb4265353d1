#!/usr/bin/env bash
# Reproduces the saliency comparison of docs/claims-fido.md (METHODS.md §2): FIDO with the
# generative in-filler against mean/blur/random/local in-fills, BBMP, gradient and occlusion,
# on shapes (object masks known: pointing game, IoU) and Fashion-MNIST test images, seed 0.
# FIDO and BBMP run 150 steps with 4 samples (defaults: 300 and 8), and N is 20 by default, so
# that the whole script takes about 15 minutes on 2 cores; every variant gets the same budget.
# Usage: scripts/claims-fido.sh [CFX_BINARY] [OUT_DIR] [N]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-fido}
N=${3:-20}
cd "$(dirname "$0")/.."
run() { echo "+ $*" >&2; "$@"; }
budget=(--set fido.steps=150 --set fido.samples=4 --set fido-sdr.steps=150
  --set fido-sdr.samples=4 --set bbmp.steps=150)

for data in shapes fashion-mnist; do
  common=(--model "models/${data}-cnn.pt" --data "$data" --split test --n "$N" --seed 0)
  # FIDO (SSR, SDR) with its generative in-filler (the shipped <data>-inpainter.pt), BBMP,
  # gradient and occlusion.
  run "$CFX" eval -q "${common[@]}" --methods fido,fido-sdr,bbmp,gradient,occlusion \
    "${budget[@]}" --out "$OUT/$data/inpainter"
done
# The weight-randomisation sanity check (every method run again on a randomised copy).
run "$CFX" eval -q --model models/shapes-cnn.pt --data shapes --split test --n 10 --seed 0 \
  --methods fido,bbmp,gradient,occlusion "${budget[@]}" --sanity --out "$OUT/shapes-sanity/all"
# FIDO (SSR) with each simple in-filler instead (shapes: all of them; Fashion-MNIST: blur).
for infill in mean blur random local; do
  run "$CFX" eval -q --model models/shapes-cnn.pt --data shapes --split test --n "$N" --seed 0 \
    --methods fido "${budget[@]}" --set "infill=$infill" --out "$OUT/shapes/$infill"
done
run "$CFX" eval -q --model models/fashion-mnist-cnn.pt --data fashion-mnist --split test \
  --n "$N" --seed 0 --methods fido "${budget[@]}" --set infill=blur --out "$OUT/fashion-mnist/blur"

# One line per method and in-filler with every metric's mean, per dataset.
for data in shapes fashion-mnist shapes-sanity; do
  echo
  echo "== $data (N=$N)"
  for dir in "$OUT/$data"/*/; do
    awk -F, -v tag="$(basename "$dir")" 'NR > 1 { m[$1] = m[$1] sprintf(" %s=%.3f", $2, $3) }
      END { for (k in m) print k " [" tag "]" m[k] }' "$dir/eval.csv"
  done | sort
done
