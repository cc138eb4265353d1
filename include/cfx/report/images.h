// Images a person looks at: signed difference maps, stage strips, saliency overlays.
#pragma once

#include <torch/types.h>

#include <vector>

namespace cfx {

/// Signed difference x̄ - x (summed over channels) as an RGB image [3, H, W]: white where
/// nothing changed, red where x̄ is brighter, blue where darker. Scaled per image by the
/// largest change (at least 0.05, so tiny changes stay faint). x, xcf: [C, H, W].
torch::Tensor signed_diff_image(const torch::Tensor& x, const torch::Tensor& xcf);

/// Images [C, H, W] side by side with a 1-pixel white gap: [C, H, k·W + k − 1]. Used for
/// progressive-stage strips (a morph from x to x̄).
torch::Tensor image_strip(const std::vector<torch::Tensor>& images);

/// A saliency map s [1, H, W] in [0, 1] as colours (inferno: black, purple, orange, pale
/// yellow for the most salient) blended over the grey version of x [C, H, W]: [3, H, W].
torch::Tensor saliency_overlay(const torch::Tensor& x, const torch::Tensor& s);

}  // namespace cfx
