#include "cfx/models/classifier.h"

#include "cfx/core/batch_invariance.h"
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

Capture from_two_rows(Capture c, const torch::Tensor& x) {
  c.logits = from_two_rows(c.logits, x);
  for (auto* m : {&c.features, &c.bn_inputs})
    for (auto& [name, t] : *m) t = from_two_rows(t, x);
  c.duq = from_two_rows(c.duq, x);
  c.loss_estimate = from_two_rows(c.loss_estimate, x);
  return c;
}

void check_classifier_outputs(Classifier& F, const torch::Tensor& x, bool needs_gradient) {
  const std::string& model = F.info().source.empty() ? F.info().arch : F.info().source;
  torch::AutoGradMode grad_on(true);  // callers may hold a NoGradGuard
  auto xd = x.detach().to(F.device()).requires_grad_(needs_gradient);
  torch::Tensor logits;
  try {
    logits = F.logits(xd);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    fail("model ", model, " failed on ", x.sizes(), " input: ", what.substr(0, what.find('\n')));
  } catch (const std::exception& e) {
    fail("model ", model, " failed on ", x.sizes(), " input: ", e.what());
  }
  CFX_CHECK(logits.defined() && logits.dim() == 2 && logits.size(0) == x.size(0), "model ", model,
            " returned ", logits.defined() ? ::cfx::str(logits.sizes()) : std::string("nothing"),
            " for ", x.sizes(), " input; a classifier must return logits [N, classes]");
  CFX_CHECK(logits.size(1) >= 2 && logits.size(1) == F.num_classes(), "model ", model, " returned ",
            logits.size(1), " logit(s) per image but has ", F.num_classes(),
            " class name(s); a classifier needs at least 2 classes, one logit each");
  CFX_CHECK(logits.is_floating_point(), "model ", model, " returned ", logits.scalar_type(),
            " logits; they must be floating point");
  CFX_CHECK(torch::isfinite(logits.detach()).all().item<bool>(), "model ", model,
            " returned NaN or infinite logits for ", x.sizes(),
            " input; explanations of such outputs would be meaningless");
  if (!needs_gradient) return;
  CFX_CHECK(logits.requires_grad(), "model ", model,
            " passes no gradient to its input (does its forward detach the output or run "
            "under no_grad?); this method follows gradients, use one that does not ",
            "(occlusion, or latent with search_steps=0)");
}

torch::Tensor Classifier::normalize(const torch::Tensor& x) const {
  return normalize_channels(x, info_.mean, info_.std);
}

nlohmann::json describe_classifier(const Classifier& F) {
  const auto& info = F.info();
  nlohmann::json bn = nlohmann::json::array();
  for (const auto& l : F.bn_layers())
    bn.push_back({{"name", l.name}, {"channels", l.running_mean.numel()}});
  std::vector<std::string> heads;
  for (const char* h : {"duq", "loss"})
    if (F.has_head(h)) heads.push_back(h);
  return {{"path", info.source},
          {"arch", info.arch},
          {"input_shape", info.input_shape},
          {"classes", info.class_names},
          {"mean", info.mean},
          {"std", info.std},
          {"dataset", info.dataset},
          {"parameters", F.num_parameters()},
          {"bn_layers", bn},
          {"feature_layers", F.feature_layers()},
          {"heads", heads}};
}

}  // namespace cfx
