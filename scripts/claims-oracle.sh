#!/usr/bin/env bash
# Reproduces the oracle section of docs/claims-latent.md: the true global causal scores of the
# shipped shapes classifiers of the rules red circle, shape and colour (the renderer as
# generator, exact interventions) and the learned generator's scores beside them, over 3
# seeds (each seed: other test images and bootstrap).
# Usage: scripts/claims-oracle.sh [CFX_BINARY] [OUT_DIR] [SAMPLES]   (~25 min on 2 cores)
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-oracle}
SAMPLES=${3:-1000}
cd "$(dirname "$0")/.."
run() { echo "+ $*" >&2; "$@"; }
for seed in 1 2 3; do
  for case in "shapes-red-circle-cnn:red circle:red-circle" "shapes-cnn:circle:circle" \
    "shapes-colour-cnn:blue:blue"; do
    IFS=: read -r model outcome name <<<"$case"
    run "$CFX" global -q --model "models/$model.pt" --outcome "$outcome" --generator oracle \
      --samples "$SAMPLES" --seed "$seed" --out "$OUT/$name-oracle-$seed" >/dev/null
    # The learned generator; its global.json carries the oracle's scores of the same images.
    run "$CFX" global -q --model "models/$model.pt" --outcome "$outcome" --samples "$SAMPLES" \
      --seed "$seed" --out "$OUT/$name-learned-$seed" >/dev/null
  done
done
# Seed 1 again with three independently trained shift predictors: the intervals then include
# how much they disagree.
SHIFTERS=models/shapes-shifter.pt,models/shapes-shifter-2.pt,models/shapes-shifter-3.pt
for case in "shapes-red-circle-cnn:red circle:red-circle" "shapes-cnn:circle:circle" \
  "shapes-colour-cnn:blue:blue"; do
  IFS=: read -r model outcome name <<<"$case"
  run "$CFX" global -q --model "models/$model.pt" --outcome "$outcome" --samples "$SAMPLES" \
    --seed 1 --shifter "$SHIFTERS" --out "$OUT/$name-3shifters-1" >/dev/null
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys, statistics as st
out = sys.argv[1]
KEYS = ["necessity", "necessity_adjusted", "sufficiency", "necessity_and_sufficiency"]
def ms(v):
    v = [x for x in v if x is not None]
    if not v: return "—"
    return f"{st.mean(v):.2f} ± {st.stdev(v) if len(v) > 1 else 0:.2f}"
for name in ["red-circle", "circle", "blue"]:
    learned = [json.load(open(f"{out}/{name}-learned-{s}/global.json")) for s in (1, 2, 3)]
    oracle = [json.load(open(f"{out}/{name}-oracle-{s}/global.json")) for s in (1, 2, 3)]
    print(f"\n### outcome '{learned[0]['config']['outcome_names']}' "
          f"({learned[0]['model']['path']}), mean ± sd over 3 seeds of "
          f"{learned[0]['summary']['samples']} samples\n")
    print("| attribute | true nec. | learned nec. | learned nec. − placebo | true suff. "
          "| learned suff. | true nec.&suff. | learned nec.&suff. |")
    print("|---|---|---|---|---|---|---|---|")
    errs = {k: [] for k in KEYS}
    for k, row in enumerate(learned[0]["scores"]):
        o = [d["scores"][k] for d in oracle]
        l = [d["scores"][k] for d in learned]
        e = lambda rows, key: [r[key]["estimate"] for r in rows]
        print(f"| {row['attribute']} | {ms(e(o, 'necessity'))} | {ms(e(l, 'necessity'))} | "
              f"{ms(e(l, 'necessity_adjusted'))} | {ms(e(o, 'sufficiency'))} | "
              f"{ms(e(l, 'sufficiency'))} | {ms(e(o, 'necessity_and_sufficiency'))} | "
              f"{ms(e(l, 'necessity_and_sufficiency'))} |")
        for key in KEYS:
            errs[key] += [r["abs_error"][key] for r in l if r["abs_error"][key] is not None]
    print()
    for key in KEYS:
        v = errs[key]
        print(f"- |learned − true| {key}: mean {st.mean(v):.2f}, largest {max(v):.2f}, "
              f"within 0.1: {sum(x <= 0.1 for x in v)}/{len(v)} (attribute × seed)")
    s_o = st.mean(d["summary"]["seconds_per_1000_samples"] for d in oracle)
    s_l = st.mean(d["summary"]["seconds_per_1000_samples"] for d in learned)
    print(f"- time: oracle {s_o:.1f} s per 1000 samples, learned {s_l:.1f} s per 1000 samples")
    three = json.load(open(f"{out}/{name}-3shifters-1/global.json"))
    one = learned[0]
    print(f"- seed 1 with 3 shift predictors (nec.&suff. [95% interval], one predictor → three; "
          f"true):")
    for r1, r3, o in zip(one["scores"], three["scores"], oracle[0]["scores"]):
        a, b = r1["necessity_and_sufficiency"], r3["necessity_and_sufficiency"]
        t = o["necessity_and_sufficiency"]["estimate"]
        inside = b["lo"] <= t <= b["hi"]
        print(f"  {r1['attribute']}: {a['estimate']:.2f} [{a['lo']:.2f}, {a['hi']:.2f}] → "
              f"{b['estimate']:.2f} [{b['lo']:.2f}, {b['hi']:.2f}]; true {t:.2f}"
              f"{'' if inside else ' (outside)'}")
PY
