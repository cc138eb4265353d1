#!/usr/bin/env bash
# dip vs dip-aux (METHODS.md §1, docs/claims-inversion.md §2) over 3 seeds, with ablations of
# dip-aux's pieces: the auxiliary loss-estimator term, the pre-image term and the fixed minimum
# budget (min_steps). 200 Fashion-MNIST test images, each towards its runner-up class, on the
# classifier trained with a loss head. Then a paired comparison per item and seed
# (scripts/paired.py). About 36 minutes on 2 cores shared with other jobs.
# Usage: scripts/claims-dip-aux.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-dip-aux}
cd "$(dirname "$0")/.."
COMMON=(--model models/fashion-mnist-cnn-loss.pt --data fashion-mnist --split test --n 200
  --target auto --oracle models/fashion-mnist-oracle-resnet.pt
  --autoencoders models/fashion-mnist-ae.pt --fid-reference 2000)
run() { echo "+ $*" >&2; "$@"; }
for seed in 0 1 2; do
  # dip and dip-aux with their registry defaults.
  run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --methods dip,dip-aux --out "$OUT/seed$seed/defaults"
  # dip-aux without the auxiliary term (pre-image + min_steps), without the pre-image term
  # (auxiliary + min_steps), and dip with only the fixed budget.
  run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --methods dip-aux --set loss_head=0 \
    --out "$OUT/seed$seed/no-aux"
  run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --methods dip-aux --set feature=0 \
    --out "$OUT/seed$seed/no-preimage"
  run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --methods dip --set min_steps=100 \
    --out "$OUT/seed$seed/dip-min-steps"
done
/usr/bin/python3 scripts/paired.py "$OUT" \
  dip=defaults/dip dip-aux=defaults/dip-aux no-aux=no-aux/dip-aux \
  no-preimage=no-preimage/dip-aux dip-min-steps=dip-min-steps/dip
