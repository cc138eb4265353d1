#!/usr/bin/env bash
# Reproduces the numbers of docs/claims-aip-text.md: AIP counterfactual sentences for 200 test
# sentences of the review grammar with the shipped text models.
# Usage: scripts/claims-aip-text.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-aip-text}
run() { echo "+ $*" >&2; "$@"; }
run "$CFX" explain-text -q --corpus test --n 200 --print 0 --out "$OUT/both"
run "$CFX" explain-text -q --corpus test --n 200 --print 0 --optimise a --out "$OUT/a-only"
# The greedy attribute step (docs/claims-aip-text.md) on three corpus seeds, both steps.
for cs in 0 1 2; do
  for step in gradient greedy; do
    for o in both a; do
      run "$CFX" explain-text -q --corpus test --corpus-seed $cs --n 200 --print 0 --optimise $o \
        --attribute-step $step --out "$OUT/c$cs-$step-$o"
    done
  done
done
for d in both a-only; do
  python3 -c "import json,sys; print('$d', json.dumps(json.load(open(sys.argv[1]))['summary'], indent=1))" \
    "$OUT/$d/result.json"
done
python3 "$(dirname "$0")/claims-aip-text-steps.py" "$OUT"
