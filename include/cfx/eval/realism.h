// Realism of counterfactuals against class-conditional autoencoders (METHODS.md §5).
#pragma once

#include <torch/types.h>

#include <utility>

#include "cfx/models/autoencoder.h"

namespace cfx {

/// IM1 per item: ‖x̄ − AE_t(x̄)‖² / (‖x̄ − AE_o(x̄)‖² + ε), t the target, o the original
/// class: below 1 when x̄ is reconstructed better by its target class's autoencoder.
/// IM2 per item: ‖AE_t(x̄) − AE_all(x̄)‖² / (‖x̄‖₁ + ε): small when x̄ lies where the target
/// class's data lies. Lower is more realistic for both.
/// xcf: [N, C, H, W] in [0, 1]; target, original: [N] int64. Returns {im1, im2}, [N] each, CPU.
std::pair<torch::Tensor, torch::Tensor> im1_im2(ClassAutoencoders& aes, const torch::Tensor& xcf,
                                                const torch::Tensor& target,
                                                const torch::Tensor& original);

}  // namespace cfx
