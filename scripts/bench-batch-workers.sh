#!/bin/bash
# Batches side by side vs one batch on every thread (issue 19), measured side by side:
# `disc` on N Fashion-MNIST test items at batch 64 with the shipped DUQ classifier, each row
# REPS times, interleaved. Prints wall seconds, s/item, batch_workers, validity and mean L1.
# Usage: scripts/bench-batch-workers.sh [N=256] [REPS=2]   (about 3 min per repetition on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-256}
REPS=${2:-2}
CFX=${CFX:-build/cfx}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
row() {  # threads batch_workers label
  local dir="$OUT/t$1-w$2"
  local s e
  s=$(date +%s.%N)
  "$CFX" explain --model models/fashion-mnist-cnn-duq.pt --data fashion-mnist --split test \
    --n "$N" --method disc --batch-size 64 --seed 0 --threads "$1" --batch-workers "$2" \
    --out "$dir" -q >/dev/null
  e=$(date +%s.%N)
  /usr/bin/python3 - "$dir/result.json" "$s" "$e" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
s = d["summary"]
print(f"{sys.argv[4]:<34} wall {wall:6.1f} s  {wall / s['items']:.3f} s/item  "
      f"batch_workers {d['run']['batch_workers']}  validity {s['validity']:.3f}  "
      f"mean L1 {s['mean_l1']:.5f}")
PY
}
for r in $(seq "$REPS"); do
  row 2 1 "2 threads, one batch at a time"
  row 2 0 "2 threads, batches side by side"
  row 1 1 "1 thread"
done
