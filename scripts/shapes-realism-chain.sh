#!/usr/bin/env bash
# The shapes cvae chain of docs/models.md ("Paired true edits and a broadcast decoder"): a
# 12-epoch broadcast-decoder cvae, 24 more epochs, 8 with the corner term, then the 8-epoch
# realism fine-tunes of it, seeds 4-6, with the critic at --lr (the default) or at
# CRITIC_LR. None of these is shipped; the chain is what the realism claims were measured on.
#
# Usage: scripts/shapes-realism-chain.sh CFX OUTDIR [STAGE...]
#   stages: base (the three-step chain to OUTDIR/corner.pt), realism-SEED (one fine-tune to
#   OUTDIR/realism-SEED.pt; CRITIC_LR=R adds --critic-lr R and names it realism-SEED-cR.pt)
# Threads: OMP_NUM_THREADS (each stage ran on one thread in docs/models.md).
set -euo pipefail
cfx=$1 out=$2
shift 2
mkdir -p "$out"
common=(--data shapes --attributes models/shapes-attributes.pt --latent 16 --batch-size 16
  --width 16)
for stage in "$@"; do
  case $stage in
  base)
    [ -f "$out/b12.pt" ] || "$cfx" train cvae "${common[@]}" --decoder broadcast --epochs 12 \
      --seed 1 -o "$out/b12.pt"
    [ -f "$out/b36.pt" ] || "$cfx" train cvae "${common[@]}" --init "$out/b12.pt" --epochs 24 \
      --seed 2 -o "$out/b36.pt"
    [ -f "$out/corner.pt" ] || "$cfx" train cvae "${common[@]}" --init "$out/b36.pt" --epochs 8 \
      --corners 100 --single 0.5 --seed 3 -o "$out/corner.pt"
    ;;
  realism-*)
    seed=${stage#realism-}
    extra=() name=realism-$seed
    if [ -n "${CRITIC_LR:-}" ]; then
      extra=(--critic-lr "$CRITIC_LR") name=$name-c$CRITIC_LR
    fi
    "$cfx" train cvae "${common[@]}" --init "$out/corner.pt" --epochs 8 --realism 100 \
      --corners 100 --single 0.5 --seed "$seed" "${extra[@]}" -o "$out/$name.pt"
    ;;
  *)
    echo "unknown stage: $stage (base, realism-SEED)" >&2
    exit 2
    ;;
  esac
done
