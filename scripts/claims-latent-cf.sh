#!/usr/bin/env bash
# Latent counterfactuals with and without the refinement (issue 14 part 3, docs/claims-latent.md
# "Latent counterfactuals: reaching the target"): the shipped classifier, VAE, shift predictor
# and attribute classifier of shapes, MNIST and Fashion-MNIST; 100 test items per set, each
# towards its runner-up class; three disjoint item sets (offsets 0, 100, 200 — the method draws
# nothing, so sets, not seeds, are what varies). Per set: `latent` with search_steps=0 (the
# paper: the best of one edit per attribute), the request only (search_latent=false), and the
# default (request, then latent); and the same edits made in the cvae's attribute code instead
# (via=code: code-paper without, code with the refinement). Scored by `cfx eval`: validity,
# oracle validity, MNAC (on shapes also by factor, mnac_factors), IM1, FID, route rates. Then
# scripts/paired.py per dataset (against the paper's configuration).
# Usage: scripts/claims-latent-cf.sh [CFX_BINARY] [OUT_DIR]   (env SETS, default "0 100 200";
# DATASETS, default "mnist fashion-mnist shapes"; about 40 minutes on one core, shapes alone 12)
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-latent-cf}
SETS=${SETS:-0 100 200}
DATASETS=${DATASETS:-mnist fashion-mnist shapes}
cd "$(dirname "$0")/.."
run() { echo "+ $*" >&2; "$@"; }
for d in $DATASETS; do
  for off in $SETS; do
    C=(--model "models/$d-cnn.pt" --data "$d" --split test --n 100 --offset "$off"
      --oracle "models/$d-oracle-resnet.pt" --autoencoders "models/$d-ae.pt" --cout-steps 0
      --seed 1 --methods latent)
    run "$CFX" -q eval "${C[@]}" --set search_steps=0 --out "$OUT/$d/seed$off/paper"
    run "$CFX" -q eval "${C[@]}" --set search_latent=false --out "$OUT/$d/seed$off/request"
    run "$CFX" -q eval "${C[@]}" --out "$OUT/$d/seed$off/default"
    run "$CFX" -q eval "${C[@]}" --set via=code --set search_steps=0 \
      --out "$OUT/$d/seed$off/code-paper"
    run "$CFX" -q eval "${C[@]}" --set via=code --out "$OUT/$d/seed$off/code"
  done
  echo "## $d"
  metrics=validity,oracle_validity,mnac,im1
  [ "$d" = shapes ] && metrics=$metrics,mnac_factors
  /usr/bin/python3 scripts/paired.py "$OUT/$d" --metrics "$metrics" \
    paper=paper/latent request=request/latent default=default/latent \
    code-paper=code-paper/latent code=code/latent
done
