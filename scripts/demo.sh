#!/usr/bin/env bash
# The first thing a newcomer runs: every built method on Fashion-MNIST test images with the
# shipped classifiers, scored side by side by `cfx eval` (one report page), FIDO saliency
# on shapes, where the true object is known, latent attribute edits with global causal
# scores on shapes, where the classifier's rule is known, and AIP counterfactuals that say
# which attributes changed, on MNIST digits and on sentences. Usage: scripts/demo.sh [CFX_BINARY] [OUT_DIR]
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/demo}
cd "$(dirname "$0")/.."
# Counterfactuals (pixel, deepinv, dip, disc, and latent and aip with the shipped Fashion-MNIST
# generators, which find the models beside the classifier) towards each image's runner-up
# class, and saliency maps (fido and fido-sdr with the shipped inpainter, bbmp, gradient,
# occlusion) of its predicted class. (dip-aux needs a loss-estimator head: it runs in
# scripts/eval-fashion.sh, every method on 100 items.)
"$CFX" eval --model models/fashion-mnist-cnn-duq.pt --data fashion-mnist --split test --n 16 \
  --methods pixel,deepinv,dip,disc,latent,aip,fido,fido-sdr,bbmp,gradient,occlusion \
  --target auto --seed 0 \
  --oracle models/fashion-mnist-oracle-resnet.pt --autoencoders models/fashion-mnist-ae.pt \
  --out "$OUT"
"$CFX" saliency --model models/shapes-cnn.pt --data shapes --split test --n 8 --method fido \
  --seed 0 --out "$OUT/shapes-fido"
# Contrastive attribute edits in the shapes VAE's latent space (one per attribute), and which
# attributes the red-circle classifier's decision causally rests on.
"$CFX" explain --model models/shapes-cnn.pt --data shapes --split test --n 8 --method latent \
  --seed 0 --out "$OUT/shapes-latent"
"$CFX" global --model models/shapes-red-circle-cnn.pt --outcome "red circle" --samples 500 \
  --seed 0 --out "$OUT/shapes-global"
# AIP: the latent and the morphometric attributes of a conditional VAE move until the digit
# classifier decides the runner-up class; and the same search over sentences.
"$CFX" explain --model models/mnist-cnn.pt --data mnist --split test --n 8 --method aip \
  --seed 0 --out "$OUT/mnist-aip"
"$CFX" explain-text --text "the pizza was not good" --text "the film is great" \
  --seed 0 --out "$OUT/text-aip"
echo
echo "demo: open $OUT/report.html in a browser (every method's items, curves and metric"
echo "      table; works offline), $OUT/shapes-fido/report.html (FIDO on shapes),"
echo "      $OUT/shapes-latent/report.html (attribute edits) and $OUT/shapes-global/report.html"
echo "      (necessity and sufficiency of each attribute for the outcome 'red circle'),"
echo "      $OUT/mnist-aip/report.html (AIP: attribute changes per digit) and"
echo "      $OUT/text-aip/result.json (AIP counterfactual sentences)."
echo "      Numbers: $OUT/eval.json, $OUT/eval.csv, $OUT/<method>/result.json;"
echo "      saliency maps as .npy in $OUT/fido/maps."
