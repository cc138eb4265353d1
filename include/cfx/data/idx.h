// IDX files, the container of MNIST and Fashion-MNIST: a big-endian header (magic number,
// dimensions) followed by the raw bytes. Read gzip-compressed or plain.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cfx {

/// An unsigned-byte IDX array: dims (outermost first) and dims[0] * ... * dims[k-1] bytes.
struct IdxArray {
  std::vector<int64_t> dims;
  std::string data;
};

/// Reads an unsigned-byte IDX file (magic 0x000008nn with nn = `ndims`), gzip-compressed or
/// plain. `what` names the payload in messages ("pixels", "labels"). Throws cfx::Error naming
/// the file for a missing file, corrupt gzip data, a wrong magic number, a zero dimension, or
/// a payload that is shorter or longer than the dimensions say.
IdxArray read_idx(const std::string& path, int ndims, const std::string& what = "data");

/// Reads an IDX image file (magic 0x00000803) as [N, 1, H, W] float32 in [0, 1].
torch::Tensor read_idx_images(const std::string& path);

/// Reads an IDX label file (magic 0x00000801) as [N] int64.
torch::Tensor read_idx_labels(const std::string& path);

/// Writes an unsigned-byte IDX file, gzip-compressed if `path` ends in ".gz", atomically.
/// Throws cfx::Error if dims do not match data.size() or the path is unwritable.
void write_idx(const std::string& path, const std::vector<int64_t>& dims, const std::string& data);

}  // namespace cfx
