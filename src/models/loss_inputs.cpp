#include "cfx/models/loss_inputs.h"

#include <torch/autograd.h>
#include <torch/nn.h>

#include "cfx/core/error.h"

namespace cfx {

namespace {
constexpr double kNoiseMax = 0.3;  // largest pixel-noise sigma
constexpr double kBlendMax = 0.5;  // largest weight of the other image in a blend
constexpr double kStepMax = 0.15;  // largest total signed-gradient step (L-inf, pixel units)
constexpr int kSteps = 2;          // gradient steps per counterfactual-like item
}  // namespace

torch::Tensor perturb_for_loss_head(
    const std::function<torch::Tensor(const torch::Tensor&)>& logits_of, const torch::Tensor& x,
    const torch::Tensor& y, int64_t num_classes, at::Generator& gen) {
  CFX_ASSERT(x.dim() == 4 && y.dim() == 1 && y.size(0) == x.size(0) && num_classes >= 2);
  const int64_t n = x.size(0);
  auto cpu = torch::TensorOptions(torch::kFloat32);
  auto kind = at::randint(0, 4, {n}, gen, torch::TensorOptions(torch::kLong));
  auto u = at::rand({n}, gen, cpu);
  auto level = at::rand({n}, gen, cpu);
  auto noise = at::randn(x.sizes(), gen, cpu);
  auto shift = at::randint(1, num_classes, {n}, gen, torch::TensorOptions(torch::kLong));
  auto dev = [&](const torch::Tensor& t) { return t.to(x.device()); };
  auto per_item = [&](const torch::Tensor& t) { return dev(t).view({-1, 1, 1, 1}); };

  auto noisy = (x + per_item(u * kNoiseMax) * dev(noise).to(x.dtype())).clamp(0, 1);
  // The partner is the next item of the batch: a different image, usually of another class.
  auto blended = (1 - per_item(u * kBlendMax)) * x + per_item(u * kBlendMax) * x.roll(1, 0);
  // Contrast lowered toward a constant grey level; at u -> 0 a blank (black, grey, white)
  // image, on which a classifier can be confidently wrong.
  auto faded = per_item(1 - u) * x + per_item(u * level);
  auto k = per_item(kind);
  auto out = torch::where(k == 0, noisy, torch::where(k == 1, blended, faded));
  // Only the counterfactual-like items pay for the gradient steps.
  auto idx = dev((kind == 3).nonzero().flatten());
  if (idx.numel() > 0) {
    auto target = dev((y.cpu() + shift) % num_classes).index_select(0, idx);
    auto step = per_item(u * (kStepMax / kSteps)).to(x.dtype()).index_select(0, idx);
    auto pushed = x.index_select(0, idx).detach();
    torch::AutoGradMode grad_on(true);
    for (int s = 0; s < kSteps; ++s) {
      auto xi = pushed.clone().requires_grad_(true);
      auto ce = torch::cross_entropy_loss(logits_of(xi), target);
      auto g = torch::autograd::grad({ce}, {xi})[0];
      pushed = (pushed - step * g.sign()).clamp(0, 1).detach();
    }
    out = out.index_copy(0, idx, pushed);
  }
  return out.detach();
}

}  // namespace cfx
