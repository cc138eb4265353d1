#include "cfx/core/batch_invariance.h"

#include <vector>

namespace cfx {

bool is_cpu_batch_of_one(const torch::Tensor& x) {
  return x.defined() && x.dim() > 0 && x.size(0) == 1 && x.device().is_cpu();
}

torch::Tensor as_two_rows(const torch::Tensor& x) {
  return is_cpu_batch_of_one(x) ? torch::cat({x, x.detach()}) : x;
}

torch::Tensor from_two_rows(const torch::Tensor& y, const torch::Tensor& x) {
  if (!is_cpu_batch_of_one(x) || !y.defined() || y.dim() == 0 || y.size(0) != 2) return y;
  return y.slice(0, 0, 1);
}

torch::Tensor rowwise_sigmoid(const torch::Tensor& x) {
  if (!x.is_cpu() || x.dim() < 2) return torch::sigmoid(x);
  std::vector<torch::Tensor> rows;
  rows.reserve(static_cast<size_t>(x.size(0)));
  for (int64_t i = 0; i < x.size(0); ++i) rows.push_back(torch::sigmoid(x[i]));
  return torch::stack(rows);
}

}  // namespace cfx
