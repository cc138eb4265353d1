#!/bin/bash
# cfx at 224x224 (issue 19): a ResNet-18-shaped TorchScript classifier (scripts/resnet18_shaped.py)
# on the shapes test images, rendered at 224x224 RGB by cfx's input loader. For each method in
# $METHODS and batch size in $BATCHES: seconds per item and peak memory per item (cfx eval's),
# and for the inversion methods the prior fit's PSNR, the share of items that converged (disc:
# reached its last stage) and the steps taken.
#   MODEL=trained (default): random convolutions with a linear head trained on shapes at 224
#     (test accuracy printed when it is made, ~5 min once): it decides, so convergence means
#     something.
#   MODEL=random: random weights; decides almost uniformly (p ~ 0.11) and hardly moves, so
#     every item runs its whole budget: an upper bound of time, not a quality measure.
# Costly on a laptop CPU (disc 10-60 s per item on 2 cores); start with METHODS=disc N=4.
#   scripts/bench-224.sh [OUT]     (env: N=items, METHODS="pixel disc ...", BATCHES="1 16",
#                                   MODEL=trained|random, SET="key=value ..." for every method,
#                                   DEVICE=cpu|cuda, CFX=path/to/cfx)
set -euo pipefail
OUT=${1:-out/bench-224}
N=${N:-16}
METHODS=${METHODS:-"pixel deepinv dip dip-aux disc gradient occlusion bbmp fido"}
BATCHES=${BATCHES:-"1 16"}
DEVICE=${DEVICE:-cpu}
DATA=${DATA:-shapes}  # RGB objects, rendered at the model's 224x224 by the input loader
MODEL=${MODEL:-trained}
SET=${SET:-}
CFX=${CFX:-build/cfx}
PY=${PY:-/usr/bin/python3}
mkdir -p "$OUT"
case $MODEL in
  random) [ -f "$OUT/resnet18.pt" ] || "$PY" scripts/resnet18_shaped.py "$OUT/resnet18.pt" > /dev/null ;;
  trained) [ -f "$OUT/resnet18-shapes.pt" ] ||
    PYTHONPATH=$(dirname "$CFX")/python "$PY" scripts/resnet18_shaped.py "$OUT/resnet18-shapes.pt" \
      --train shapes | tee "$OUT/resnet18-shapes.log" ;;
  *) echo "MODEL must be trained or random" >&2; exit 2 ;;
esac
model=$OUT/resnet18.pt
[ "$MODEL" = trained ] && model=$OUT/resnet18-shapes.pt
sets=()
for kv in $SET; do sets+=(--set "$kv"); done
# converged: the share of items that reached the last stage (disc) or the target at the
# confidence asked (other counterfactual methods).
printf "%-10s %5s %5s %10s %12s %9s %9s %7s\n" method batch items s/item "peak MB/item" "fit dB" converged steps
for m in $METHODS; do
  for b in $BATCHES; do
    dir="$OUT/$MODEL-$m-b$b${SET:+-${SET// /-}}"
    # cfx eval, for its per-item peak memory; no COUT path, FID or attribute oracle (not
    # timed here). Counterfactuals target the runner-up class, saliency the predicted one.
    target=auto
    case $m in fido|fido-sdr|bbmp|gradient|occlusion) target=pred ;; esac
    "$CFX" eval -q --model "$model" --data "$DATA" --n "$N" --batch-size "$b" \
      --methods "$m" --target "$target" --cout-steps 0 --fid-net none --attributes none ${sets[@]+"${sets[@]}"} \
      --device "$DEVICE" --out "$dir" > "$dir.log" 2>&1 || {
      echo "$m batch $b failed: $(tail -1 "$dir.log")"; continue; }
    "$PY" - "$dir/$m/result.json" "$dir/eval.json" "$m" "$b" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
items, s = r["items"], r["summary"]
def mean(vals):
    vals = [v for v in vals if isinstance(v, (int, float))]
    return statistics.mean(vals) if vals else float("nan")
mem = e["methods"][0]["summary"].get("peak_mb_per_item", {}).get("mean", float("nan"))
print(f"{sys.argv[3]:10s} {sys.argv[4]:>5s} {len(items):5d} {s.get('seconds_per_item', float('nan')):10.3f} "
      f"{mem:12.1f} {mean([it.get('prior_psnr') for it in items]):9.1f} "
      f"{mean([it.get('converged') for it in items]):9.2f} {mean([it.get('steps') for it in items]):7.1f}")
PY
  done
done
