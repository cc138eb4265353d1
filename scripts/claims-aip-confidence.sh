#!/usr/bin/env bash
# AIP's oracle agreement against the stopping confidence (docs/claims-aip.md, "Stopping
# further from F's boundary"; issue 14's AIP bar). The paper's search stops at the first valid
# step, so its counterfactuals sit where F has just changed its mind (p_target 0.59–0.65) and
# an independent classifier, whose boundary lies elsewhere, often disagrees. Both AIP and pixel
# inversion take `confidence` (an item stops once argmax F = t and p_t >= it); this runs both
# at each CONFIDENCES value on three disjoint sets of 100 test items (the methods draw nothing
# per item, so sets, not seeds, vary), towards each item's runner-up class, scored by
# `cfx eval`, then scripts/paired.py per dataset against AIP at the paper's 0.5.
# Usage: scripts/claims-aip-confidence.sh [CFX_BINARY] [OUT_DIR]
# Environment: DATASETS ("mnist fashion-mnist"), CONFIDENCES ("0.5 0.9 0.99"), SETS
#   ("0 100 200"). About 25 minutes on one thread (AIP 0.25–0.7 s per item, more at higher
#   confidence; pixel ~0.03).
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-aip-confidence}
DATASETS=${DATASETS:-mnist fashion-mnist}
CONFIDENCES=${CONFIDENCES:-0.5 0.9 0.99}
SETS=${SETS:-0 100 200}
cd "$(dirname "$0")/.."
run() { echo "+ $*" >&2; "$@"; }
for d in $DATASETS; do
  names=()
  for c in $CONFIDENCES; do
    for off in $SETS; do
      dir="$OUT/$d/seed$off/c$c"
      [ -f "$dir/eval.json" ] ||
        run "$CFX" -q eval --model "models/$d-cnn.pt" --data "$d" --split test --n 100 \
          --offset "$off" --methods aip,pixel --set confidence="$c" \
          --oracle "models/$d-oracle-resnet.pt" --autoencoders "models/$d-ae.pt" \
          --cout-steps 0 --seed 1 --out "$dir"
    done
  done
  for m in aip pixel; do
    for c in $CONFIDENCES; do names+=("$m-$c=c$c/$m"); done
  done
  echo "## $d"
  /usr/bin/python3 scripts/paired.py "$OUT/$d" \
    --metrics validity,oracle_validity,target_prob,l1,im1,mnac "${names[@]}"
done
