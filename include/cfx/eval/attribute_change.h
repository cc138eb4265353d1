// Attribute changes of counterfactuals (METHODS.md §5): MNAC, the number of attributes an
// attribute oracle sees flip between x and x̄.
#pragma once

#include <torch/types.h>

#include "cfx/models/attributes.h"

namespace cfx {

/// Per item, how many of A's attributes change state (probability crossing 0.5) between x and
/// xcf, both [N, C, H, W] in [0, 1]. Returns [N] float32 on the CPU.
/// Throws cfx::Error if the shapes differ or do not fit A.
torch::Tensor attribute_flips(AttributeClassifier& A, const torch::Tensor& x,
                              const torch::Tensor& xcf);

}  // namespace cfx
