// The comparison plots an eval report opens with (issue 15 part 5): inline SVG drawn from the
// eval document's per-method summaries ({"mean", "lo", "hi", "n"} per metric), so the page
// stays self-contained and needs no script to show them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace cfx {

/// Whether a larger value of `metric` is better (+1), worse (−1), or neither (0), e.g.
/// oracle_validity +1, l1 −1, target_prob 0. The report marks column heads ↑ / ↓ by it.
int metric_direction(const std::string& metric);

/// "↑", "↓" or "" for metric_direction(metric).
std::string direction_arrow(const std::string& metric);

/// A "mean [lo, hi]" interval as text rounded to its precision: the half-width to two
/// significant digits and the mean and bounds to the same decimal place (0.44512 [0.37781,
/// 0.51432] → "0.445 [0.378, 0.514]"). A value without bounds keeps 4 significant digits.
std::string interval_text(const nlohmann::json& ci);

/// The comparison figures for `methods` (eval.json's "methods" array): for counterfactual
/// methods oracle validity (else validity) against L1, and realism (IM1, else FID) against L1,
/// one point per method with interval bars on both axes; for saliency methods the deletion and
/// insertion AUCs per method with interval whiskers. Each figure is an
/// <figure class="plot"><svg>…</svg><figcaption>…</figcaption></figure>; figures whose
/// metrics no method has are left out. Returns "" when there is nothing to draw.
std::string eval_comparison_plots(const nlohmann::json& methods);

}  // namespace cfx
