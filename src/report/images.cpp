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

torch::Tensor saliency_overlay(const torch::Tensor& x, const torch::Tensor& s) {
  // Five anchors of matplotlib's inferno, linearly interpolated.
  static const float kAnchors[5][3] = {{0.001f, 0.000f, 0.014f},
                                       {0.341f, 0.062f, 0.429f},
                                       {0.735f, 0.216f, 0.330f},
                                       {0.978f, 0.557f, 0.035f},
                                       {0.988f, 1.000f, 0.645f}};
  auto anchors = torch::from_blob(const_cast<float*>(&kAnchors[0][0]), {5, 3}).clone();
  auto v = s.to(torch::kFloat32).squeeze(0).clamp(0, 1) * 4;  // [H, W] in [0, 4]
  auto lo = v.floor().clamp_max(3).to(torch::kLong);
  auto f = (v - lo.to(torch::kFloat32)).unsqueeze(-1);
  auto rgb = anchors.index({lo}) * (1 - f) + anchors.index({lo + 1}) * f;  // [H, W, 3]
  auto grey = x.to(torch::kFloat32).mean(0, true).expand({3, -1, -1});
  return (0.35 * grey + 0.65 * rgb.permute({2, 0, 1})).clamp(0, 1);
}

}  // namespace cfx
