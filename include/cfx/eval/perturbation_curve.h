// Perturbation curves: move an image towards another one pixel position at a time, in a
// given order, and watch the classifier. Deletion/insertion (saliency_metrics.h) and COUT
// (counterfactual transition, METHODS.md §5) are such curves.
#pragma once

#include <torch/types.h>

#include "cfx/models/classifier.h"

namespace cfx {

/// Rank of every pixel position of each score map ([N, 1, H, W] or [N, H*W]), 0 = highest
/// score; ties keep raster order. Returns [N, H*W] int64 on CPU.
torch::Tensor pixel_ranks(const torch::Tensor& scores);

/// The path from `canvas` to `source` ([N, C, H, W], same shape): at step k = 0..steps the
/// round(HW·k/steps) positions of lowest rank (`ranks` from pixel_ranks) take all their
/// channels from `source`, the others from `canvas`. Returns F's class probabilities on every
/// image of the path, [N, steps + 1, num_classes] on CPU.
torch::Tensor paste_curve(Classifier& F, const torch::Tensor& canvas, const torch::Tensor& source,
                          const torch::Tensor& ranks, int64_t steps);

/// Area under curves [N, K+1] sampled at K + 1 evenly spaced points of [0, 1] (trapezoid
/// rule). Returns [N].
torch::Tensor curve_auc(const torch::Tensor& curves);

/// COUT (counterfactual transition) per item: x̄'s pixels are pasted into x in order of
/// decreasing Σ_channels |x̄ − x| (ties in raster order) over `steps` steps; COUT = AUC of
/// p_t minus AUC of p_s along the path, t the target, s the source class (argmax F(x)).
/// In [−1, 1]; high when the largest changes alone already move the decision to t.
struct CoutScores {
  torch::Tensor cout;          // [N] float
  torch::Tensor target_curve;  // [N, steps + 1] p_t along the path
  torch::Tensor source_curve;  // [N, steps + 1] p_s along the path
};
/// x, xcf: [N, C, H, W]; targets: [N] int64.
CoutScores cout_scores(Classifier& F, const torch::Tensor& x, const torch::Tensor& xcf,
                       const torch::Tensor& targets, int64_t steps = 50);

}  // namespace cfx
