#include "cfx/methods/inversion/terms.h"

#include "cfx/core/error.h"

namespace cfx {

torch::Tensor feature_consistency(const std::map<std::string, torch::Tensor>& now,
                                  const std::map<std::string, torch::Tensor>& ref) {
  torch::Tensor total;
  for (const auto& [name, r] : ref) {
    auto it = now.find(name);
    CFX_ASSERT(it != now.end());
    auto rf = r.flatten(1);
    auto term = (it->second.flatten(1) - rf).pow(2).sum(1) / rf.pow(2).sum(1).clamp_min(1e-8);
    total = total.defined() ? total + term : term;
  }
  return total;
}

torch::Tensor bn_statistics_prior(const std::map<std::string, torch::Tensor>& bn_inputs,
                                  const std::vector<BNLayer>& layers) {
  torch::Tensor total;
  for (const auto& l : layers) {
    auto it = bn_inputs.find(l.name);
    if (it == bn_inputs.end()) continue;
    auto h = it->second.flatten(2);  // [n, C, positions]
    auto mu = h.mean(2);
    auto var = h.var(2, /*unbiased=*/false);
    auto rm = l.running_mean.to(h.device(), h.scalar_type()).unsqueeze(0);
    auto rv = l.running_var.to(h.device(), h.scalar_type()).unsqueeze(0);
    auto term = (mu - rm).norm(2, {1}) + (var - rv).norm(2, {1});
    total = total.defined() ? total + term : term;
  }
  CFX_ASSERT(total.defined());
  return total;
}

torch::Tensor validity_hinge(const torch::Tensor& logp, const torch::Tensor& t,
                             const torch::Tensor& tau) {
  auto lpt = logp.gather(1, t.unsqueeze(1)).squeeze(1);
  return torch::relu(tau.log() - lpt);
}

torch::Tensor lowpass_gradient(const torch::Tensor& x, int64_t factor) {
  if (factor <= 1) return x;
  auto low = torch::upsample_nearest2d(torch::avg_pool2d(x, factor, factor, 0, /*ceil_mode=*/true),
                                       {x.size(2), x.size(3)});
  // value: x; gradient: that of `low`, an average over blocks.
  return x.detach() + (low - low.detach());
}

}  // namespace cfx
