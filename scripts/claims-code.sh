#!/usr/bin/env bash
# Reproduces the "via code" section of docs/claims-latent.md: global causal scores of the three
# shipped shapes classifiers (rules red circle, shape, colour) with interventions made in the
# cvae's attribute code (`cfx global --via code`) and, beside them, through the shift predictor
# (the paper's route) and the true scores (the oracle generator, carried in each run's
# global.json by --reference auto), over 3 seeds (each: other test images, coins and
# bootstrap). VIAS="code" skips the shift-predictor runs. CVAES="a.pt,b.pt,c.pt" makes the code
# route pool several cvaes (their spread enters the intervals; default: shapes-cvae.pt alone).
# CASES="MODEL.pt:OUTCOME:NAME;..." scores other classifiers (NAME one of red-circle, circle,
# blue, which fixes the rule the summary checks), e.g. ones trained with --blur.
# Usage: scripts/claims-code.sh [CFX_BINARY] [OUT_DIR] [SAMPLES]
#   (about 40 min on one thread at 1000 samples with both routes, 2026-12-02; about half with
#   VIAS=code; VIAS=code with CVAES of three cvaes about 40 min)
set -euo pipefail
CFX=${1:-build/cfx}
OUT=${2:-out/claims-code}
SAMPLES=${3:-1000}
VIAS=${VIAS:-code shift}
CVAES=${CVAES:-}
cd "$(dirname "$0")/.."
run() { echo "+ $*" >&2; "$@"; }
if [ -n "${CASES:-}" ]; then
  IFS=';' read -r -a CASES <<<"$CASES"
else
  CASES=("models/shapes-red-circle-cnn.pt:red circle:red-circle"
    "models/shapes-cnn.pt:circle:circle" "models/shapes-colour-cnn.pt:blue:blue")
fi
for seed in 1 2 3; do
  for case in "${CASES[@]}"; do
    IFS=: read -r model outcome name <<<"$case"
    for via in $VIAS; do
      [ -s "$OUT/$name-$via-$seed/global.json" ] && continue  # a finished run is kept
      generator=()
      [ "$via" = code ] && [ -n "$CVAES" ] && generator=(--generator "$CVAES")
      run "$CFX" global -q --model "$model" --outcome "$outcome" --via "$via" \
        "${generator[@]}" --samples "$SAMPLES" --seed "$seed" --out "$OUT/$name-$via-$seed" \
        >/dev/null
    done
  done
done
/usr/bin/python3 - "$OUT" "$VIAS" <<'PY'
import json, os, sys, statistics as st
out, vias = sys.argv[1], sys.argv[2].split()
# The rule's attributes and those of their exclusive groups (a colour rule reads the other
# colours too). An attribute outside them whose true necessity is at most 0.05 is one the
# rule ignores (the shape classifier, for one, also reads rotation).
RULES = {"red-circle": ["circle", "square", "triangle", "red", "green", "blue"],
         "circle": ["circle", "square", "triangle"], "blue": ["red", "green", "blue"]}
KEYS = ["necessity", "necessity_adjusted", "sufficiency", "necessity_and_sufficiency"]
def ms(v):
    v = [x for x in v if x is not None]
    if not v: return "—"
    return f"{st.mean(v):.2f} ± {st.stdev(v) if len(v) > 1 else 0:.2f}"
def est(rows, key): return [r[key]["estimate"] for r in rows]
for name, rule in RULES.items():
    runs = {v: [json.load(open(f"{out}/{name}-{v}-{s}/global.json")) for s in (1, 2, 3)]
            for v in vias if os.path.exists(f"{out}/{name}-{v}-1/global.json")}
    if "code" not in runs: continue  # a rule CASES left out
    first = runs["code"][0]
    print(f"\n### outcome '{first['config']['outcome_names']}' ({first['model']['path']}), "
          f"mean ± sd over 3 seeds of {first['summary']['samples']} samples\n")
    head = "| attribute | true nec. |" + "".join(f" {v} nec. | {v} nec. − placebo |" for v in runs)
    head += " true nec.&suff. |" + "".join(f" {v} nec.&suff. |" for v in runs)
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for k, row in enumerate(first["scores"]):
        truth = [d["scores"][k]["oracle"] for d in runs["code"]]
        line = f"| {row['attribute']} | {ms(est(truth, 'necessity'))} |"
        for v, docs in runs.items():
            rows = [d["scores"][k] for d in docs]
            line += f" {ms(est(rows, 'necessity'))} | {ms(est(rows, 'necessity_adjusted'))} |"
        line += f" {ms(est(truth, 'necessity_and_sufficiency'))} |"
        for v, docs in runs.items():
            line += f" {ms(est([d['scores'][k] for d in docs], 'necessity_and_sufficiency'))} |"
        print(line)
    print()
    for v, docs in runs.items():
        errs = {key: [] for key in KEYS}
        worst, clear = [], []
        for d in docs:
            sc = {r["attribute"]: r for r in d["scores"]}
            for r in d["scores"]:
                for key in KEYS:
                    if r["abs_error"][key] is not None: errs[key].append(r["abs_error"][key])
            ignored = [a for a in sc if a not in rule and sc[a]["necessity_adjusted"]["n"] > 0
                       and (sc[a]["oracle"]["necessity"]["estimate"] or 0) <= 0.05]
            worst.append(max((sc[a]["necessity_adjusted"]["estimate"], a) for a in ignored))
            # The rule's attribute with the largest true nec.&suff. ranks first with its interval
            # clear of every attribute outside the rule.
            top = max(rule, key=lambda a: sc[a]["oracle"]["necessity_and_sufficiency"]["estimate"])
            rest = max(sc[a]["necessity_and_sufficiency"]["hi"] for a in sc if a not in rule)
            clear.append(sc[top]["necessity_and_sufficiency"]["lo"] > rest)
        print(f"- **{v}**: largest placebo-adjusted necessity of an ignored attribute per seed: "
              + ", ".join(f"{w:.2f} ({a})" for w, a in worst)
              + f"; the rule's top attribute clear of the rest by nec.&suff.: {sum(clear)}/3")
        for key in KEYS:
            e = errs[key]
            print(f"  - |{v} − true| {key}: mean {st.mean(e):.2f}, largest {max(e):.2f}, "
                  f"within 0.1: {sum(x <= 0.1 for x in e)}/{len(e)} (attribute × seed)")
        # How wide the intervals are (with several cvaes they include the spread between them).
        w = [r[key]["hi"] - r[key]["lo"] for d in docs for r in d["scores"]
             for key in ("necessity_and_sufficiency",) if r[key]["n"] > 0]
        print(f"  - mean width of the nec.&suff. intervals: {st.mean(w):.3f} "
              f"({d['config'].get('generators', 1)} generator(s))")
        t = st.mean(d["summary"]["seconds_per_1000_samples"] for d in docs)
        print(f"  - {t:.1f} s per 1000 samples")
PY
