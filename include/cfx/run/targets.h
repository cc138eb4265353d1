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

/// Per-item target specs read from a file, in the order of `inputs` (what each item is: its
/// path, or "dataset:split:index"). The file is CSV, one `input,target` line per item (a
/// first line `input,target` is a header), or JSON: an object {input: target} or an array of
/// targets in item order. An input matches an item's name exactly, or its file name when that
/// is unique. Throws cfx::Error naming the file and line for a malformed file, an item the
/// file leaves out, or an entry that names no item.
std::vector<std::string> read_target_file(const std::string& path,
                                          const std::vector<std::string>& inputs);

}  // namespace cfx
