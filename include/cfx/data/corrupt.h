// Corrupted queries for robustness checks (METHODS.md §1, DISC's claim on noisy, blurred and
// low-contrast inputs).
#pragma once

#include <torch/types.h>

#include <string>

namespace cfx {

/// Applies a corruption given as "KIND:LEVEL" to images [N, C, H, W] in [0, 1]:
///   noise:σ     additive Gaussian noise of std σ (seeded), clamped to [0, 1];
///   blur:σ      Gaussian blur of std σ pixels (replicate borders);
///   contrast:f  each image's pixels pulled toward its mean: m + f·(x − m), 0 < f ≤ 1;
///   none        no change.
/// Throws cfx::Error for an unknown kind or a level out of range.
torch::Tensor corrupt_images(const torch::Tensor& images, const std::string& spec, uint64_t seed);

}  // namespace cfx
