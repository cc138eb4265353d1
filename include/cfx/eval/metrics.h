// Per-item counterfactual metrics (METHODS.md §5): validity and proximity.
#pragma once

#include <torch/types.h>

#include "cfx/models/classifier.h"

namespace cfx {

/// Scores of counterfactuals x̄ for queries x, all tensors [N] on CPU.
struct CounterfactualScores {
  torch::Tensor original_class;  // argmax F(x), int64
  torch::Tensor original_prob;   // p_{original_class}(x)
  torch::Tensor cf_class;        // argmax F(x̄), int64
  torch::Tensor target_prob;     // p_t(x̄)
  torch::Tensor valid;           // argmax F(x̄) == t, bool
  torch::Tensor l1;              // mean |x̄ - x| over all values
  torch::Tensor l2;              // mean (x̄ - x)^2 over all values
  torch::Tensor l0;              // fraction of pixel positions where any channel moved > 0.05
};

/// x, xcf: [N, C, H, W] in [0, 1]; targets: [N] int64.
CounterfactualScores score_counterfactuals(Classifier& F, const torch::Tensor& x,
                                           const torch::Tensor& xcf, const torch::Tensor& targets);

/// Per-item numbers of a saliency run, all [N] on CPU. c is the explained class (the target).
struct SaliencyScores {
  torch::Tensor original_class;  // argmax F(x), int64
  torch::Tensor original_prob;   // p_{original_class}(x)
  torch::Tensor class_prob;      // p_c(x)
  torch::Tensor infill_prob;     // p_c(x̃) of the method's in-filled image; undefined if none
  torch::Tensor area;            // mean of the saliency map: how much of the image it marks
};

/// x: [N, C, H, W]; saliency: [N, 1, H, W]; infilled: [N, C, H, W] or undefined.
SaliencyScores score_saliency(Classifier& F, const torch::Tensor& x, const torch::Tensor& saliency,
                              const torch::Tensor& infilled, const torch::Tensor& targets);

/// The runner-up class of each item (second-highest probability): the default target.
torch::Tensor runner_up_classes(Classifier& F, const torch::Tensor& x);

}  // namespace cfx
