// Morphometric attributes of handwritten digits (in the spirit of Morpho-MNIST, Castro et al.
// 2019), also used for garment silhouettes: measurable properties of the stroke or shape, so
// counterfactuals can be described in terms a person understands ("thicker", "more slanted") and
// attribute-conditional models have targets.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace cfx {

/// Column names of morphometric_attributes: {"area", "thickness", "slant", "width", "height"}.
std::vector<std::string> morphometric_attribute_names();

/// Measures every image of `images` [N, 1, H, W] in [0, 1] (light strokes on a dark ground).
/// Pixels brighter than `ink` count as the object: 0.5 for pen strokes; a lower value measures
/// the whole silhouette of objects with dark parts (Fashion-MNIST garments use 0.1).
/// Returns [N, 5] float32, columns as in morphometric_attribute_names(); all 0 for a blank image.
/// Throws cfx::Error if `images` is not [N, 1, H, W] or `ink` is outside (0, 1).
torch::Tensor morphometric_attributes(const torch::Tensor& images, float ink = 0.5f);

}  // namespace cfx
