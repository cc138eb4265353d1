// Device selection: "cpu" (default) or "cuda[:i]" when LibTorch was built with CUDA.
#pragma once

#include <torch/types.h>

#include <string>

namespace cfx {

/// Parses a --device value. Throws cfx::Error for an unknown name, or for "cuda" when
/// this LibTorch has no CUDA or no GPU is visible.
torch::Device parse_device(const std::string& name);

}  // namespace cfx
