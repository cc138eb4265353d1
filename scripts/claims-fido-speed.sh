#!/usr/bin/env bash
# FIDO's cost against its quality (docs/performance.md, "FIDO"; issue 19): the default FIDO
# (SSR, log-odds, in-painter, 300 steps) with M = 8 Concrete samples per step against M = 4
# and M = 2, on the first N Fashion-MNIST test images (the predicted class) at batch 32, for
# seeds 0-2; eval's deletion/insertion AUC per item, then paired differences against M = 8
# (scripts/paired.py) and each run's seconds per map. About 30 minutes on 2 cores at N = 40.
# Usage: scripts/claims-fido-speed.sh [CFX_BINARY] [OUT_DIR] [N]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-fido-speed}
N=${3:-40}
cd "$(dirname "$0")/.."
run() { echo "+ $*" >&2; "$@"; }
for seed in 0 1 2; do
  for m in 8 4 2; do
    run "$CFX" eval -q --model models/fashion-mnist-cnn.pt --data fashion-mnist --split test \
      --n "$N" --seed "$seed" --target pred --batch-size 32 --methods fido --set samples="$m" \
      --fid-net none --out "$OUT/seed$seed/m$m" >/dev/null
  done
done
/usr/bin/python3 scripts/paired.py "$OUT" --metrics deletion_auc,insertion_auc,saliency_area,steps \
  --rate converged --diff deletion_auc,insertion_auc,saliency_area m8=m8/fido m4=m4/fido m2=m2/fido
/usr/bin/python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
for m in (8, 4, 2):
    runs = [json.load(open(p))["summary"]
            for p in sorted(glob.glob(os.path.join(out, "seed*", f"m{m}", "fido", "result.json")))]
    per_map = [s["seconds_per_item"] for s in runs]
    print(f"M = {m}: {statistics.mean(per_map):.2f} s per map (runs: "
          f"{', '.join(f'{v:.2f}' for v in per_map)}); steps per item "
          f"{statistics.mean(s['mean_steps'] for s in runs):.0f}")
PY
