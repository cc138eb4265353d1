#!/usr/bin/env bash
# DISC's surrogate and corruption experiments over 5 seeds, with baselines (issue 15 part 3,
# docs/claims-inversion.md §3–4). 200 Fashion-MNIST test images, each towards its runner-up
# class, classifier with a DUQ head. Per seed:
#  - surrogates (a width-8 `cnn`, 30 epochs, seeded with the run's seed) trained on the 200
#    queries alone, on the queries plus each method's counterfactuals (pixel, deepinv, dip,
#    disc), and on 400 real test images (the "more real data" baseline: as many images as
#    queries + counterfactuals), all labelled by F and tested for agreement with F on the 1000
#    test images after the queries (items 200–1199; 400–1399 for the 400-image baseline);
#  - pixel, dip and disc on corrupted queries (noise σ 0.1, blur σ 1 px, contrast × 0.5);
#    the clean run is the surrogate run's.
#  - dip at DISC's L1 (confidence 0.99), clean and on each corruption.
# Then scripts/paired.py per corruption (oracle validity vs disc) and the surrogate table
# (scripts/surrogate_table.py). About 2 hours on 2 cores shared with other jobs; 55 minutes on 2
# cores alone with the seeds run two at a time, one thread each (docs/claims-inversion.md §3).
# Usage: scripts/claims-disc-robust.sh [CFX_BINARY] [OUT_DIR]   (env SEEDS, default "0 1 2 3 4")
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-disc-robust}
SEEDS=${SEEDS:-0 1 2 3 4}
cd "$(dirname "$0")/.."
COMMON=(--model models/fashion-mnist-cnn-duq.pt --data fashion-mnist --split test
  --target auto --oracle models/fashion-mnist-oracle-resnet.pt
  --autoencoders models/fashion-mnist-ae.pt)
run() { echo "+ $*" >&2; "$@"; }
for seed in $SEEDS; do
  D="$OUT/seed$seed"
  run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --n 200 --methods pixel,deepinv,dip,disc \
    --surrogate 1000 --out "$D/clean"
  run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --n 400 --methods pixel --fid-net none \
    --surrogate 1000 --out "$D/queries400"
  for c in noise:0.1 blur:1 contrast:0.5; do
    run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --n 200 --methods pixel,dip,disc \
      --corrupt "$c" --out "$D/corrupt-${c%%:*}"
  done
done
# dip at DISC's L1 (stopping confidence 0.99, docs/claims-inversion.md §1b), clean and corrupted.
for seed in $SEEDS; do
  D="$OUT/seed$seed"
  for c in none noise:0.1 blur:1 contrast:0.5; do
    name=$([ "$c" = none ] && echo clean || echo "corrupt-${c%%:*}")
    run "$CFX" eval -q "${COMMON[@]}" --seed "$seed" --n 200 --methods dip --set confidence=0.99 \
      --corrupt "$c" --out "$D/dip-c099-$name"
  done
done
/usr/bin/python3 scripts/surrogate_table.py "$OUT"
for c in clean corrupt-noise corrupt-blur corrupt-contrast; do
  echo "## $c"
  /usr/bin/python3 scripts/paired.py "$OUT" --metrics validity,oracle_validity,l1,im1 \
    disc=$c/disc pixel=$c/pixel dip=$c/dip dip-c0.99=dip-c099-$c/dip
done
