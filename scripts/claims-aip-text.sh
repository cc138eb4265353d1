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
for d in both a-only; do
  python3 -c "import json,sys; print('$d', json.dumps(json.load(open(sys.argv[1]))['summary'], indent=1))" \
    "$OUT/$d/result.json"
done
