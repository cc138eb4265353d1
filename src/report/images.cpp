#include "cfx/report/images.h"

namespace cfx {

torch::Tensor signed_diff_image(const torch::Tensor& x, const torch::Tensor& xcf) {
  auto d = (xcf - x).to(torch::kFloat32).sum(0) / x.size(0);
  double scale = std::max(0.05, d.abs().max().item<double>());
  d = (d / scale).clamp(-1, 1);
  auto pos = d.clamp_min(0), neg = (-d).clamp_min(0);
  return torch::stack({1 - neg, 1 - d.abs(), 1 - pos});
}

torch::Tensor image_strip(const std::vector<torch::Tensor>& images) {
  std::vector<torch::Tensor> parts;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& im = images[i];
    if (i) parts.push_back(torch::ones({im.size(0), im.size(1), 1}, im.options()));
    parts.push_back(im);
  }
  return torch::cat(parts, 2);
}

}  // namespace cfx
