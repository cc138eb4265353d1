// Loss terms of the inversion family (METHODS.md §1). Each returns one value per item [n], so
// items are weighted and stopped independently. Shapes: images [n, C, H, W].
#pragma once

#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "cfx/core/tensor.h"  // total_variation
#include "cfx/models/classifier.h"

namespace cfx {

/// Σ_l ‖F_l(x̄) − F_l(x)‖² / ‖F_l(x)‖² over the layers in `ref` (activations of x, [n, ...]
/// each) against the same layers of x̄ in `now` -> [n].
torch::Tensor feature_consistency(const std::map<std::string, torch::Tensor>& now,
                                  const std::map<std::string, torch::Tensor>& ref);

/// DeepInversion's batch-norm statistics prior, per item: Σ_l ‖μ_l − μ_l^run‖₂ +
/// ‖σ²_l − σ²_l^run‖₂, where μ_l, σ²_l are the channel mean and variance of the item's input to
/// BN layer l over its spatial positions ([n, C, ...] inputs in `bn_inputs`) -> [n].
torch::Tensor bn_statistics_prior(const std::map<std::string, torch::Tensor>& bn_inputs,
                                  const std::vector<BNLayer>& layers);

/// The validity term of a stage that asks for p_t ≥ tau: max(0, log tau − log p_t), i.e.
/// cross-entropy to t until the stage's probability is reached and no push beyond it.
/// logp: [n, K] log-probabilities, t: [n] -> [n].
torch::Tensor validity_hinge(const torch::Tensor& logp, const torch::Tensor& t,
                             const torch::Tensor& tau);

/// Identity in the forward pass; in the backward pass the gradient is averaged over
/// factor × factor blocks. Optimising through it changes coarse structure first
/// (coarse-to-fine schedules) whatever the image parameterisation.
torch::Tensor lowpass_gradient(const torch::Tensor& x, int64_t factor);

}  // namespace cfx
