// Device selection: "cpu" (default) or "cuda[:i]" when LibTorch was built with CUDA.
#pragma once

#include <torch/types.h>

#include <string>

namespace cfx {

/// Parses a --device value. Throws cfx::Error for an unknown name, or for "cuda" when
/// this LibTorch has no CUDA or no GPU is visible.
torch::Device parse_device(const std::string& name);

/// Keeps freed tensor memory in the process (glibc: raises the mmap and trim thresholds).
/// Batched methods allocate the same large blocks every step; returning them to the OS and
/// faulting them back in cost FIDO and occlusion half their time at batch 32 (bench). Call
/// once at start-up; a no-op elsewhere than glibc.
void keep_freed_memory();

}  // namespace cfx
