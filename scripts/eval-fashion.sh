#!/usr/bin/env bash
# Reproduces docs/eval-fashion.md: every method cfx has, on the same 100 Fashion-MNIST test
# images, in one `cfx eval` run. The classifier is the shipped CNN with a loss-estimator
# head (dip-aux needs it); latent and aip find the Fashion-MNIST generator, shifter, cvae and
# attribute classifier beside it. Usage: scripts/eval-fashion.sh [CFX_BINARY] [OUT_DIR] [N]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/eval-fashion}
N=${3:-100}
cd "$(dirname "$0")/.."
set -x
"$CFX" eval --model models/fashion-mnist-cnn-loss.pt --data fashion-mnist --split test --n "$N" \
  --methods pixel,deepinv,dip,dip-aux,disc,latent,aip,fido,fido-sdr,bbmp,gradient,occlusion \
  --target auto --seed 1 --oracle models/fashion-mnist-oracle-resnet.pt \
  --autoencoders models/fashion-mnist-ae.pt --out "$OUT"
