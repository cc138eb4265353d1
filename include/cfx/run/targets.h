// Which class each item's explanation aims at, from what a user wrote.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cfx/models/classifier.h"

namespace cfx {

/// The class `spec` writes: the index of a name in `class_names`, else the integer it spells
/// (not range-checked: callers say what the range is); nullopt when it is neither.
std::optional<int64_t> parse_class(const std::string& spec,
                                   const std::vector<std::string>& class_names);

/// One target spec: "auto" (each item's runner-up class), "pred" (its predicted class), a
/// class index, or one of F's class names. With one spec it holds for every item; otherwise
/// there must be one per item of `images` ([N, C, H, W] in [0, 1]). Returns [N] int64 on the
/// CPU. Throws cfx::Error naming the spec (and the item) that is not a class of F.
torch::Tensor resolve_targets(const std::vector<std::string>& specs, Classifier& F,
                              const torch::Tensor& images);

}  // namespace cfx
