#!/usr/bin/env bash
# DISC against pixel and DIP inversion at a fixed budget, swept over their L1 weight (issue 15
# part 3, docs/claims-inversion.md §1c). With early stop an item ends at its first valid step,
# before the L1 term can shrink anything, so the weight hardly matters (§1b swept the stop
# instead). Here every item runs at least MIN steps (then stops at validity, as usual), so the
# weight decides how far the change is pulled back: a lower weight leaves larger changes. DISC
# runs at the same budget too, so the baselines are compared at matched L1 *and* budget. Same
# items, seeds and classifier as scripts/claims-disc.sh (it reuses that script's
# OUT/seed*/defaults runs, and runs them if missing), then means over seeds and paired tests
# (scripts/paired.py) against DISC as shipped and against DISC at the same budget.
# Usage: scripts/claims-disc-l1.sh [CFX_BINARY] [OUT_DIR]
# Environment: SEEDS ("0 1 2"); CONFIGS, words METHOD:MIN_STEPS:L1_WEIGHT (the table's rows).
# Time on one thread (200 items): pixel about 2 minutes per configuration at MIN 100, 5 at 300;
# dip and disc about 6 per configuration and seed; the default CONFIGS about 100 minutes.
# Pixel has no randomness, so its later seeds link to the first seed's run.
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-disc}
SEEDS=${SEEDS:-0 1 2}
CONFIGS=${CONFIGS:-pixel:100:2 pixel:100:0.5 pixel:100:0.1 pixel:100:0.02 pixel:300:0.02
  pixel:300:0 dip:100:2 dip:100:0.5 dip:100:0.1 dip:100:0.02 disc:100:1 disc:100:0.25}
cd "$(dirname "$0")/.."
COMMON=(--model models/fashion-mnist-cnn-duq.pt --data fashion-mnist --split test --n 200
  --target auto --oracle models/fashion-mnist-oracle-resnet.pt
  --autoencoders models/fashion-mnist-ae.pt)
run() { echo "+ $*" >&2; "$@"; }
first=${SEEDS%% *}
names=()
base="" # the first DISC configuration: DISC at the same budget, the second table's baseline
for config in $CONFIGS; do
  IFS=: read -r method min w <<<"$config"
  names+=("$method-m$min-l1-$w=$method-m$min-l1-$w/$method")
  [ "$method" = disc ] && [ -z "$base" ] && base=${names[-1]}
done
for seed in $SEEDS; do
  D="$OUT/seed$seed"
  [ -f "$D/defaults/eval.json" ] ||
    run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --methods pixel,dip,disc --out "$D/defaults"
  for config in $CONFIGS; do
    IFS=: read -r method min w <<<"$config"
    dir="$D/$method-m$min-l1-$w"
    [ -f "$dir/eval.json" ] && continue
    if [ "$method" = pixel ] && [ "$seed" != "$first" ]; then
      ln -sfn "$(realpath "$OUT/seed$first/$method-m$min-l1-$w")" "$dir"
      continue
    fi
    run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --methods "$method" \
      --set min_steps="$min" --set l1="$w" --out "$dir"
  done
done
/usr/bin/python3 scripts/paired.py "$OUT" disc=defaults/disc "${names[@]}"
if [ -n "$base" ]; then
  others=()
  for name in "${names[@]}"; do [ "$name" = "$base" ] || others+=("$name"); done
  /usr/bin/python3 scripts/paired.py "$OUT" "$base" "${others[@]}"
fi
