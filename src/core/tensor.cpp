#include "cfx/core/tensor.h"

namespace cfx {

torch::Tensor normalize_channels(const torch::Tensor& x, const std::vector<double>& mean,
                                 const std::vector<double>& std) {
  if (mean.empty() && std.empty()) return x;
  int64_t c = x.size(1);
  auto vec = [&](const std::vector<double>& v, double fallback) {
    auto t =
        v.empty() ? torch::full({1}, fallback, torch::kDouble) : torch::tensor(v, torch::kDouble);
    return t.to(x.options()).expand({c}).reshape({1, c, 1, 1});
  };
  return (x - vec(mean, 0.0)) / vec(std, 1.0);
}

}  // namespace cfx
