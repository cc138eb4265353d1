// The query images of a run: one file, a flat folder of files, or items of a dataset,
// brought to the model's input shape.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace cfx {

struct InputOptions {
  std::string image;           // one image file
  std::string images;          // a folder of image files (not recursive)
  std::string data;            // a dataset name or class-folder root (see load_dataset)
  std::string split = "test";  // dataset split
  int64_t n = 16;              // dataset items to take
  int64_t offset = 0;          // first dataset item
  uint64_t seed = 0;           // for generated datasets
};

struct Inputs {
  torch::Tensor images;              // [N, C, H, W] float32 in [0, 1], at the model's shape
  torch::Tensor labels;              // [N] int64 true labels, or undefined (plain files)
  torch::Tensor masks;               // [N, 1, H, W] object masks (shapes), or undefined
  std::vector<std::string> sources;  // per item: path or "dataset:split:index"
};

/// Loads exactly one of image / images / data (throws cfx::Error if none or several are
/// set, or if anything cannot be read) and conforms every image to `shape` {C, H, W}.
Inputs load_inputs(const InputOptions& options, const std::vector<int64_t>& shape);

/// {C, H, W} of the query images as they are, before any conforming: the first image of
/// --image/--images (in name order), or the dataset's. For a model that does not state its
/// input shape. Throws cfx::Error like load_inputs() for missing or unreadable inputs.
std::vector<int64_t> native_input_shape(const InputOptions& options);

}  // namespace cfx
