// Small tensor helpers shared across layers.
#pragma once

#include <torch/types.h>

#include <vector>

namespace cfx {

/// (x - mean) / std per channel of x [N, C, H, W]; mean/std hold 1 or C values, or are
/// empty (no change).
torch::Tensor normalize_channels(const torch::Tensor& x, const std::vector<double>& mean,
                                 const std::vector<double>& std);

/// Tensor [K] (any dtype) to a std::vector<T>.
template <class T>
std::vector<T> to_vector(const torch::Tensor& t) {
  auto c = t.detach().cpu().contiguous().to(c10::CppTypeToScalarType<T>::value);
  return std::vector<T>(c.template data_ptr<T>(), c.template data_ptr<T>() + c.numel());
}

}  // namespace cfx
