#!/usr/bin/env bash
# Classifiers that read soft edges as sharp ones (`train classifier --blur`): docs/claims-latent.md
# "A classifier that reads soft edges as sharp ones" and docs/claims-aip.md "A shape classifier
# that reads soft edges, and what the shapes oracle reads". Trains the blur-augmented shape CNN,
# red-circle CNN and resnet referee (docs/models.md), then
#   - global causal scores of both rules through the realism cvaes pooled (scripts/claims-code.sh
#     with CASES; CHAIN is scripts/shapes-realism-chain.sh's folder with realism-4/5/6.pt),
#   - AIP on three sets of 100 shapes test items with the shipped and the blur-trained shape CNN,
#     each scored by the shipped and the blur-trained referee at the paper's stop, and by the
#     blur-trained referee at confidence 0.99, tabulated.
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
/usr/bin/python3 - "$out/aip" <<'PY'
import collections, glob, json, math, sys
# Which factor each attribute code belongs to: the largest |change| of a searched item, by factor.
FACTOR = {"circle": "shape", "square": "shape", "triangle": "shape", "red": "colour",
          "green": "colour", "blue": "colour", "large": "size", "left": "position",
          "top": "position", "rotated": "other", "light_background": "other"}
def wilson(k, n, z=1.96):
    p, d = k / n, 1 + z * z / n
    c, h = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (c - h) / d, (c + h) / d
print("| F | referee | confidence | oracle agrees (n) | p_target | converged | L1 | reconstruction "
      "already the target: n, oracle agrees | searched: n, oracle agrees | largest change of the "
      "searched: shape / colour / position / size / other |")
print("|---|---|---|---|---|---|---|---|---|---|")
for f in ("shipped", "blur"):
    for o, c in (("shipped", "0.5"), ("blur", "0.5"), ("blur", "0.99")):
        items = []
        for path in sorted(glob.glob(f"{sys.argv[1]}/{f}-F/{o}-referee/c{c}/set*/aip/result.json")):
            items += json.load(open(path))["items"]
        n, k = len(items), sum(bool(i["oracle_validity"]) for i in items)
        lo, hi = wilson(k, n)
        at0 = [i for i in items if i["reconstruction_already_target"]]
        searched = [i for i in items if not i["reconstruction_already_target"]]
        agree = lambda s: sum(bool(i["oracle_validity"]) for i in s)
        big = collections.Counter(
            FACTOR[max(i["attribute_changes"], key=lambda c: abs(c["change"]))["attribute"]]
            for i in searched)
        print(f"| {f} | {o} | {c} | {k / n:.2f} [{lo:.2f}, {hi:.2f}] ({n}) | "
              f"{sum(i['target_prob'] for i in items) / n:.2f} | "
              f"{sum(bool(i['converged']) for i in items)} | {sum(i['l1'] for i in items) / n:.3f} | "
              f"{len(at0)}: {agree(at0)} | {len(searched)}: {agree(searched)} | "
              + " / ".join(str(big[x]) for x in ("shape", "colour", "position", "size", "other"))
              + " |")
PY
