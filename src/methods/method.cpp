#include "cfx/methods/method.h"

#include "cfx/core/error.h"

namespace cfx {

void Request::validate() const {
  CFX_CHECK(classifier != nullptr, "request has no classifier");
  classifier->check_input(images);
  CFX_CHECK(images.scalar_type() == torch::kFloat32, "images must be float32, got ",
            images.scalar_type());
  CFX_CHECK(targets.defined() && targets.dim() == 1 && targets.size(0) == images.size(0),
            "need one target per image: ", images.size(0), " images, ",
            targets.defined() ? targets.numel() : 0, " targets");
  CFX_CHECK(torch::isfinite(images).all().item<bool>(), "images contain NaN or infinite values");
  CFX_CHECK(images.min().item<float>() >= 0.f && images.max().item<float>() <= 1.f,
            "images must be in [0, 1], got range [", images.min().item<float>(), ", ",
            images.max().item<float>(), "]");
  auto t = targets.to(torch::kLong);
  if (t.numel()) {
    int64_t lo = t.min().item<int64_t>(), hi = t.max().item<int64_t>();
    CFX_CHECK(lo >= 0 && hi < classifier->num_classes(), "target class ", (lo < 0 ? lo : hi),
              " is out of range: the model has ", classifier->num_classes(), " classes (0..",
              classifier->num_classes() - 1, ")");
  }
}

std::vector<std::pair<const char*, torch::Tensor*>> Result::item_tensors() {
  return {{"counterfactuals", &counterfactuals},
          {"saliency", &saliency},
          {"infilled", &infilled},
          {"steps", &steps},
          {"converged", &converged},
          {"stage_images", &stage_images},
          {"prior_psnr", &prior_psnr},
          {"reconstruction", &reconstruction},
          {"reconstruction_error", &reconstruction_error},
          {"edits_before", &edits.before},
          {"edits_direction", &edits.direction},
          {"edits_after", &edits.after},
          {"edits_images", &edits.images},
          {"edits_classes", &edits.classes},
          {"edits_target_prob", &edits.target_prob},
          {"edits_chosen", &edits.chosen},
          {"edits_base_class", &edits.base_class},
          {"edits_base_target_prob", &edits.base_target_prob},
          {"edits_route", &edits.route},
          {"edits_request", &edits.request},
          {"shift_before", &attribute_shift.before},
          {"shift_after", &attribute_shift.after},
          {"shift_read", &attribute_shift.read},
          {"shift_base_class", &attribute_shift.base_class},
          {"shift_base_target_prob", &attribute_shift.base_target_prob}};
}

std::vector<std::pair<const char*, const torch::Tensor*>> Result::item_tensors() const {
  std::vector<std::pair<const char*, const torch::Tensor*>> out;
  for (auto [name, t] : const_cast<Result*>(this)->item_tensors()) out.emplace_back(name, t);
  return out;
}

}  // namespace cfx
