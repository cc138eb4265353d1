// Attribute changes of counterfactuals (METHODS.md §5): MNAC, the number of attributes an
// attribute oracle sees flip between x and x̄, and the same count by factor.
#pragma once

#include <torch/types.h>

#include "cfx/models/attributes.h"

namespace cfx {

/// What an attribute oracle sees change between x and x̄, per item.
struct AttributeChange {
  /// [N] float32: attributes whose state flips (probability crossing 0.5): MNAC.
  torch::Tensor attributes;
  /// [N] float32: factors that change, an exclusive group (shapes' shape, colour) counting
  /// once when any member flips and every other attribute as itself. A change of shape flips
  /// two attributes (circle off, square on) but is one factor. Equal to `attributes` for an
  /// oracle without groups.
  torch::Tensor factors;
};

/// x, xcf: [N, C, H, W] in [0, 1]. Both counts on the CPU.
/// Throws cfx::Error if the shapes differ or do not fit A.
AttributeChange attribute_change(AttributeClassifier& A, const torch::Tensor& x,
                                 const torch::Tensor& xcf);

}  // namespace cfx
