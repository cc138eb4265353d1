#!/usr/bin/env bash
# dip vs dip-aux (METHODS.md §1, docs/claims-inversion.md §2) over 3 seeds, with ablations of
# dip-aux's pieces: the auxiliary loss-estimator term, the pre-image term, the fixed minimum
# budget (min_steps), and the loss estimator's training on perturbed inputs (a second head,
# trained on clean items only beside the same classifier, --loss-perturbed 0). 200
# Fashion-MNIST test images, each towards its runner-up class, on the shipped classifier with
# a loss head (fashion-mnist-cnn.pt's classifier unchanged, --head-only). Then paired
# comparisons per item and seed (scripts/paired.py). About 50 minutes on 2 cores shared with
# other jobs.
# Usage: scripts/claims-dip-aux.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-dip-aux}
cd "$(dirname "$0")/.."
COMMON=(--data fashion-mnist --split test --n 200
  --target auto --oracle models/fashion-mnist-oracle-resnet.pt
  --autoencoders models/fashion-mnist-ae.pt --fid-net models/fashion-mnist-oracle-resnet.pt
  --fid-reference 2000)
MODEL=(--model models/fashion-mnist-cnn-loss.pt)
CLEAN_HEAD="$OUT/fashion-mnist-cnn-loss-clean.pt"
run() { echo "+ $*" >&2; "$@"; }
mkdir -p "$OUT"
# The shipped recipe (scripts/make-models.sh) without the perturbed inputs.
[ -f "$CLEAN_HEAD" ] || run "$CFX" train classifier -q --data fashion-mnist --arch cnn --head loss \
  --init models/fashion-mnist-cnn.pt --head-only --loss-perturbed 0 --epochs 2 --flip --seed 1 \
  --out "$CLEAN_HEAD"
for seed in 0 1 2; do
  S=(--seed "$seed")
  # dip and dip-aux with their registry defaults.
  run "$CFX" eval -q "${MODEL[@]}" "${COMMON[@]}" "${S[@]}" --methods dip,dip-aux \
    --out "$OUT/seed$seed/defaults"
  # dip-aux without the auxiliary term (pre-image + min_steps), without the pre-image term
  # (auxiliary + min_steps), and dip with only the fixed budget.
  run "$CFX" eval -q "${MODEL[@]}" "${COMMON[@]}" "${S[@]}" --methods dip-aux --set loss_head=0 \
    --out "$OUT/seed$seed/no-aux"
  run "$CFX" eval -q "${MODEL[@]}" "${COMMON[@]}" "${S[@]}" --methods dip-aux --set feature=0 \
    --out "$OUT/seed$seed/no-preimage"
  run "$CFX" eval -q "${MODEL[@]}" "${COMMON[@]}" "${S[@]}" --methods dip --set min_steps=100 \
    --out "$OUT/seed$seed/dip-min-steps"
  # The same two dip-aux configurations with the estimator trained on clean items only.
  run "$CFX" eval -q --model "$CLEAN_HEAD" "${COMMON[@]}" "${S[@]}" --methods dip-aux \
    --out "$OUT/seed$seed/clean-head"
  run "$CFX" eval -q --model "$CLEAN_HEAD" "${COMMON[@]}" "${S[@]}" --methods dip-aux \
    --set feature=0 --out "$OUT/seed$seed/clean-head-no-preimage"
done
/usr/bin/python3 scripts/paired.py "$OUT" \
  dip=defaults/dip dip-aux=defaults/dip-aux no-aux=no-aux/dip-aux \
  no-preimage=no-preimage/dip-aux dip-min-steps=dip-min-steps/dip \
  clean-head=clean-head/dip-aux clean-head-no-preimage=clean-head-no-preimage/dip-aux
# Each piece against the configuration without it.
/usr/bin/python3 scripts/paired.py "$OUT" dip-min-steps=dip-min-steps/dip no-preimage=no-preimage/dip-aux
/usr/bin/python3 scripts/paired.py "$OUT" no-preimage=no-preimage/dip-aux dip-aux=defaults/dip-aux
/usr/bin/python3 scripts/paired.py "$OUT" clean-head-no-preimage=clean-head-no-preimage/dip-aux \
  no-preimage=no-preimage/dip-aux
/usr/bin/python3 scripts/paired.py "$OUT" clean-head=clean-head/dip-aux dip-aux=defaults/dip-aux
