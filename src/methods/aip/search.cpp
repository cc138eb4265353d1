#include "cfx/methods/aip/search.h"

#include <cmath>

#include "cfx/core/error.h"
#include "cfx/core/tensor.h"
#include "cfx/methods/inversion/batched_adam.h"
#include "cfx/methods/options.h"

namespace cfx {

void AipSearchOptions::validate(const std::string& label) const {
  CFX_CHECK(steps >= 0 && steps <= 100000, label, "steps = ", steps, " (use 0 to 100000)");
  CFX_CHECK(lr > 0 && std::isfinite(lr), label, "lr = ", lr, " (must be > 0)");
  CFX_CHECK(attribute_lr > 0 && std::isfinite(attribute_lr), label, "attribute_lr = ", attribute_lr,
            " (must be > 0)");
  CFX_CHECK(alpha >= 0 && std::isfinite(alpha), label, "alpha = ", alpha, " (must be >= 0)");
  CFX_CHECK(beta >= 0 && std::isfinite(beta), label, "beta = ", beta, " (must be >= 0)");
  CFX_CHECK(confidence >= 0 && confidence < 1, label, "confidence = ", confidence,
            " (use 0 <= confidence < 1)");
  CFX_CHECK(optimise_z || optimise_a, label,
            "optimise_z and optimise_a are both false: nothing would move");
}

nlohmann::json AipSearchOptions::to_json(const std::string& p) const {
  return {{p + "steps", steps},
          {p + "lr", lr},
          {p + "attribute_lr", attribute_lr},
          {p + "alpha", alpha},
          {p + "beta", beta},
          {p + "confidence", confidence},
          {p + "optimise_z", optimise_z},
          {p + "optimise_a", optimise_a}};
}

void AipSearchOptions::read(const nlohmann::json& j, bool optimise_flags, const std::string& p) {
  read_option(j, p + "steps", steps);
  read_option(j, p + "lr", lr);
  read_option(j, p + "attribute_lr", attribute_lr);
  read_option(j, p + "alpha", alpha);
  read_option(j, p + "beta", beta);
  read_option(j, p + "confidence", confidence);
  if (!optimise_flags) return;
  read_option(j, p + "optimise_z", optimise_z);
  read_option(j, p + "optimise_a", optimise_a);
}

AipSearchResult aip_search(const AipLogitsFn& logits_of, const torch::Tensor& z0,
                           const torch::Tensor& a0, const torch::Tensor& targets,
                           const AipSearchOptions& o, const ProgressFn& progress) {
  o.validate();
  CFX_ASSERT(z0.dim() == 2 && a0.dim() == 2 && targets.dim() == 1);
  CFX_ASSERT(z0.size(0) == a0.size(0) && z0.size(0) == targets.size(0));
  torch::AutoGradMode grad_on(true);  // callers may hold a NoGradGuard
  const int64_t n = z0.size(0);
  const auto device = z0.device();
  AipSearchResult res;
  res.z = z0.detach().clone();
  res.a = a0.detach().clamp(0, 1).clone();
  res.steps = torch::zeros({n}, torch::kLong);
  res.converged = torch::zeros({n}, torch::kBool);
  res.target_prob_trace.assign(n, {});
  res.loss_trace.assign(n, {});
  BatchedAdam adam({res.z}, {o.lr});
  auto z_anchor = z0.detach(), a_anchor = a0.detach().clamp(0, 1);
  auto active = torch::ones({n}, torch::kBool);

  for (int64_t step = 0; step <= o.steps; ++step) {
    auto idx = active.nonzero().flatten();
    if (idx.numel() == 0) break;
    auto idx_dev = idx.to(device);
    auto ps = adam.gather(idx_dev);
    ps.push_back(res.a.index_select(0, idx_dev).set_requires_grad(true));
    auto a0a = a_anchor.index_select(0, idx_dev);
    auto ta = targets.index_select(0, idx_dev);
    auto logp = torch::log_softmax(logits_of(ps[0], ps[1], idx_dev), 1);
    auto pt = logp.gather(1, ta.unsqueeze(1)).squeeze(1).exp();
    // The ℓ1 term is reported in the loss but left out of the gradient: the prox below does it.
    auto smooth = torch::nll_loss(logp, ta, {}, at::Reduction::None) +
                  o.alpha * (ps[0] - z_anchor.index_select(0, idx_dev)).pow(2).sum(1);
    auto loss = smooth + o.beta * (ps[1] - a0a).abs().sum(1);

    auto back = to_host_rows({pt, loss, logp.argmax(1) == ta});
    auto pt_c = back[0], loss_c = back[1];
    auto done = (back[2] > 0.5) & (pt_c >= o.confidence);
    auto stop = done | (step == o.steps);
    auto ia = idx.accessor<int64_t, 1>();
    auto pa = pt_c.accessor<float, 1>(), la = loss_c.accessor<float, 1>();
    auto sa = stop.accessor<bool, 1>(), da = done.accessor<bool, 1>();
    for (int64_t k = 0; k < idx.numel(); ++k) {
      res.target_prob_trace[ia[k]].push_back(pa[k]);
      res.loss_trace[ia[k]].push_back(la[k]);
      if (!sa[k]) continue;
      res.steps[ia[k]] = step;
      res.converged[ia[k]] = da[k];
      active[ia[k]] = false;
    }
    if (!active.any().item<bool>()) break;

    auto [rows, keep] = rows_to_keep(stop, smooth);
    (smooth * keep).sum().backward();
    if (o.optimise_z && ps[0].grad().defined()) adam.step_rows(idx_dev, {ps[0]}, rows);
    torch::NoGradGuard ng;
    if (o.optimise_a && ps[1].grad().defined()) {
      auto g = ps[1].grad();
      auto scale = g.abs().amax(1, true).clamp_min(1e-12);
      auto d = ps[1].detach() - o.attribute_lr * g / scale - a0a;
      d = d.sign() * (d.abs() - o.attribute_lr * o.beta).clamp_min(0);
      auto a_new = (a0a + d).clamp(0, 1);  // the relaxation: attributes stay probabilities
      res.a.index_copy_(0, idx_dev.index_select(0, rows), a_new.index_select(0, rows));
    }
    if (progress) progress(step + 1, o.steps, active.sum().item<int64_t>());
  }
  return res;
}

}  // namespace cfx
