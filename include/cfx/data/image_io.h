// Reading and writing single images as [C, H, W] float tensors in [0, 1].
#pragma once

#include <torch/types.h>

#include <string>

namespace cfx {

/// Reads a PNG/JPEG/BMP file. Returns [C, H, W] float32 in [0, 1] with C = 1 (grey) or 3 (RGB);
/// an alpha channel is dropped. Throws cfx::Error naming the path if the file is missing,
/// empty, truncated or not an image.
torch::Tensor read_image(const std::string& path);

/// Brings an image [C, H, W] to the model's input shape {C, H, W}: resizes (with a notice
/// naming `what`) when the size differs; throws cfx::Error if the channel count differs.
torch::Tensor conform_image(const torch::Tensor& image, const std::vector<int64_t>& shape,
                            const std::string& what);

/// Resizes [C, H, W] float to [C, height, width] (area interpolation per channel), silently.
/// Throws cfx::Error for a non-positive size or a tensor that is not [C, H, W].
torch::Tensor resize_image(const torch::Tensor& image, int64_t height, int64_t width);

/// Encodes [C, H, W] (C = 1 or 3, values clamped to [0, 1]) as PNG bytes.
std::string encode_png(const torch::Tensor& image);

/// Writes [C, H, W] as a PNG atomically. Throws cfx::Error if the path is unwritable.
void write_png(const std::string& path, const torch::Tensor& image);

}  // namespace cfx
