#!/usr/bin/env bash
# Classifiers that read soft edges as sharp ones (`train classifier --blur`): docs/claims-latent.md
# "A classifier that reads soft edges as sharp ones" and docs/claims-aip.md "A shape classifier
# that reads soft edges, and what the shapes oracle reads". Trains the blur-augmented shape CNN,
# red-circle CNN and resnet referee (docs/models.md), then
#   - global causal scores of both rules through the realism cvaes pooled (scripts/claims-code.sh
#     with CASES; CHAIN is scripts/shapes-realism-chain.sh's folder with realism-4/5/6.pt),
#   - AIP on three sets of 100 shapes test items with the shipped and the blur-trained shape CNN,
#     each scored by the shipped and the blur-trained referee at the paper's stop, and by the
#     blur-trained referee at confidence 0.99, tabulated by scripts/claims-blur-aip.py (with the
#     paired test of 0.99 against 0.5).
# Usage: scripts/claims-blur.sh CFX OUT CHAIN
#   (about 85 minutes on one thread: training 17, causal scores 40, AIP 25; 2026-12-04)
set -euo pipefail
cfx=$1 out=$2 chain=$3
cd "$(dirname "$0")/.."
mkdir -p "$out"
run() { echo "+ $*" >&2; "$@"; }
train() {  # NAME, then the options after `train classifier --data shapes`
  local name=$1
  shift
  [ -f "$out/$name.pt" ] || run "$cfx" train classifier -q --data shapes "$@" --out "$out/$name.pt"
}
train shape-blur --shapes-rule shape --arch cnn --epochs 12 --blur 1 --seed 1
train red-circle-blur --shapes-rule red-circle --arch cnn --epochs 12 --blur 1 --seed 1
train oracle-blur --shapes-rule shape --arch resnet --width 16 --dropout 0 --epochs 12 --blur 1 \
  --seed 2

CASES="$out/red-circle-blur.pt:red circle:red-circle;$out/shape-blur.pt:circle:circle" \
  CVAES="$chain/realism-4.pt,$chain/realism-5.pt,$chain/realism-6.pt" VIAS=code \
  scripts/claims-code.sh "$cfx" "$out/causal" 1000

# AIP at the paper's stop (confidence 0.5) with each F and each referee; at 0.99 with the
# blur-trained referee only.
for f in shipped:models/shapes-cnn.pt blur:$out/shape-blur.pt; do
  for c in shipped:models/shapes-oracle-resnet.pt:0.5 blur:$out/oracle-blur.pt:0.5 \
    blur:$out/oracle-blur.pt:0.99; do
    IFS=: read -r referee oracle confidence <<<"$c"
    for off in 0 100 200; do
      dir=$out/aip/${f%%:*}-F/$referee-referee/c$confidence/set$off
      [ -f "$dir/eval.json" ] || run "$cfx" -q eval --model "${f#*:}" --data shapes --split test \
        --n 100 --offset "$off" --methods aip --set confidence="$confidence" \
        --set cvae=models/shapes-cvae.pt --oracle "$oracle" --autoencoders models/shapes-ae.pt \
        --cout-steps 0 --seed 1 --out "$dir" >/dev/null
    done
  done
done
/usr/bin/python3 scripts/claims-blur-aip.py "$out/aip"
