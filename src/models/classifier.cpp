#include "cfx/models/classifier.h"

#include "cfx/core/error.h"
#include "cfx/core/tensor.h"

namespace cfx {

torch::Tensor Classifier::predict_proba(const torch::Tensor& x, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < x.size(0); i += batch_size) {
    auto xb = x.slice(0, i, std::min(i + batch_size, x.size(0))).to(device());
    out.push_back(torch::softmax(logits(xb), 1).cpu());
  }
  if (out.empty()) return torch::zeros({0, num_classes()});
  return torch::cat(out, 0);
}

void Classifier::check_input(const torch::Tensor& x) const {
  const auto& s = info_.input_shape;
  CFX_CHECK(x.defined() && x.dim() == 4, "classifier input must be [N, C, H, W], got ",
            x.defined() ? x.sizes() : c10::IntArrayRef{});
  CFX_CHECK(x.size(1) == s[0] && x.size(2) == s[1] && x.size(3) == s[2],
            "classifier expects images of shape [", s[0], ", ", s[1], ", ", s[2], "], got [",
            x.size(1), ", ", x.size(2), ", ", x.size(3), "]");
}

torch::Tensor Classifier::normalize(const torch::Tensor& x) const {
  return normalize_channels(x, info_.mean, info_.std);
}

}  // namespace cfx
