#!/usr/bin/env bash
# The report in a real browser: the real cfx writes an explain report (60 items, two pages)
# and an eval report (two methods) for the shipped Fashion-MNIST model with hostile class
# names, then headless Debian Chromium opens both from disk (tests/report/browser_test.mjs).
# Usage: tests/report/browser_test.sh CFX_BINARY OUT_DIR
set -euo pipefail
CFX=$1
OUT=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHROMIUM=${CFX_CHROMIUM:-/usr/bin/chromium}
for need in "$CHROMIUM" "$ROOT/deps/node_modules/playwright-core/package.json"; do
  if [ ! -e "$need" ]; then
    echo "report_browser: $need is missing; run scripts/install-deps" >&2
    exit 1
  fi
done

HOSTILE='<img src=x onerror=alert(1)>'
# Ten Fashion-MNIST classes; two are HTML that must stay text (no commas: --classes splits on them).
CLASSES="$HOSTILE,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,\"><script>alert(2)</script>"
MODEL="$ROOT/models/fashion-mnist-cnn.pt"
rm -rf "$OUT"
mkdir -p "$OUT"
timeout 300 "$CFX" explain -q --model "$MODEL" --classes "$CLASSES" --data fashion-mnist \
  --split test --n 60 --steps 5 --method pixel --out "$OUT/explain"
timeout 300 "$CFX" eval -q --model "$MODEL" --classes "$CLASSES" --data fashion-mnist \
  --split test --n 6 --methods pixel,deepinv --set steps=5 --out "$OUT/eval" >/dev/null
timeout 180 node "$ROOT/tests/report/browser_test.mjs" "$OUT" "$HOSTILE"
