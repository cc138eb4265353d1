// Inputs off the data for the loss estimator (heads.h). Trained on test-like images only, the
// estimator says little about the images a counterfactual search visits (noisy, in between
// classes, pushed toward another class by gradients), which is where DIP counterfactuals ask
// it; so training and its report also use perturbed copies of each batch.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <functional>

namespace cfx {

/// x: [N, C, H, W] images in [0, 1] with labels y [N] of `num_classes` classes. Returns
/// perturbed copies [N, C, H, W] in [0, 1], one of four kinds per item (drawn from `gen`):
/// - Gaussian pixel noise, sigma ~ U(0, 0.3);
/// - a blend (1 - a) x + a x' with another item x' of the batch, a ~ U(0, 0.5);
/// - contrast lowered toward a constant: (1 - c) x + c v, c ~ U(0, 1), v ~ U(0, 1) (blank
///   images at c -> 1);
/// - counterfactual-like: two signed-gradient steps of total size eps ~ U(0, 0.15) that
///   lower the cross-entropy of a random other class under `logits_of` (pixel-space images
///   -> logits [N, num_classes]).
/// The caller scores them against the original labels y, so the loss estimator learns that
/// these inputs are ones the classifier may get wrong.
torch::Tensor perturb_for_loss_head(
    const std::function<torch::Tensor(const torch::Tensor&)>& logits_of, const torch::Tensor& x,
    const torch::Tensor& y, int64_t num_classes, at::Generator& gen);

}  // namespace cfx
