// NumPy .npy files (format 1.0, little-endian float32, C order): saliency maps are written
// this way so numpy and other tools read them with np.load and no cfx code.
#pragma once

#include <torch/types.h>

#include <string>

namespace cfx {

/// Writes `t` (any shape, converted to float32) to `path` atomically.
void write_npy(const std::string& path, const torch::Tensor& t);

/// Reads a float32 or float64 .npy written in C order; returns a float32 tensor. Throws
/// cfx::Error naming the path if the file is missing or not such an array.
torch::Tensor read_npy(const std::string& path);

}  // namespace cfx
