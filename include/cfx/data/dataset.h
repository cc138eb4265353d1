// One in-memory dataset interface for every source (built-in datasets, folders).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cfx {

struct Dataset {
  std::string name;                          // "fashion-mnist", "mnist", "shapes", or a path
  std::string split;                         // "train" or "test" ("all" for folders)
  torch::Tensor images;                      // [N, C, H, W] float32 in [0, 1]
  torch::Tensor labels;                      // [N] int64 in [0, num_classes)
  std::vector<std::string> class_names;      // num_classes entries
  std::vector<std::string> attribute_names;  // K names; empty if the dataset has none
  torch::Tensor attributes;                  // [N, K] float32, or undefined
  torch::Tensor masks;                       // [N, 1, H, W] float32 in {0, 1}, or undefined
  std::vector<std::string> sources;          // per item: file, or "<name>:<split>:<index>"
  // Raw generative factors of a generated dataset (shapes), else empty and undefined. Kept
  // apart from `attributes` so that attributes stay targets a classifier can predict (0/1 for
  // shapes) while the exact causes of every image remain known.
  std::vector<std::string> factor_names;  // F names
  torch::Tensor factors;                  // [N, F] float32, or undefined

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }

  /// Items at `index` ([M] integer, repeats allowed), every per-item field sliced
  /// consistently. Throws cfx::Error for an index out of range.
  Dataset select(const torch::Tensor& index) const;
  /// The first min(n, size()) items. Throws cfx::Error for n < 0.
  Dataset head(int64_t n) const;
};

/// How `load_dataset` builds a dataset; every field has a usable default.
struct DatasetOptions {
  std::string split = "train";        // "train" or "test"
  int64_t limit = -1;                 // keep at most this many items (-1: all)
  uint64_t seed = 0;                  // generated datasets (shapes); the mnist split is fixed
  std::string shapes_rule = "shape";  // shapes: which attributes decide the class
  int64_t shapes_size = 32;           // shapes: image side in pixels
  int64_t shapes_count = -1;          // shapes: items to generate (-1: 10000 train / 2000 test)
};

/// Loads a dataset by name ("fashion-mnist", "mnist", "shapes") or, if `name` is a
/// directory, as an image folder root/<class>/*.png|jpg (the built-in names win; write
/// ./mnist for a folder called mnist). Folders have no splits: any split loads every image.
/// Throws cfx::Error for an unknown name (listing the known ones), a missing or corrupt
/// source, a bad split, or a limit that is neither -1 nor positive.
Dataset load_dataset(const std::string& name, const DatasetOptions& options = {});

/// Names accepted by load_dataset besides folder paths.
std::vector<std::string> dataset_names();

}  // namespace cfx
