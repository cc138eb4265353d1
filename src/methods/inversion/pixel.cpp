#include <chrono>
#include <cmath>

#include "cfx/core/error.h"
#include "cfx/core/seed.h"
#include "cfx/methods/inversion/inversion.h"
#include "cfx/methods/options.h"

using nlohmann::json;

namespace cfx {

void InversionOptions::validate() const {
  CFX_CHECK(steps >= 1 && steps <= 1000000, "invalid steps: ", steps, " (use >= 1)");
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid lr: ", lr, " (use > 0)");
  for (auto [name, v] :
       {std::pair<const char*, double>{"validity", validity}, {"l1", l1}, {"l2", l2}, {"tv", tv}})
    CFX_CHECK(v >= 0 && std::isfinite(v), "invalid ", name, " weight: ", v, " (use >= 0)");
  CFX_CHECK(confidence > 0 && confidence < 1, "invalid confidence: ", confidence,
            " (use a probability in (0, 1))");
  CFX_CHECK(param == "clamp" || param == "sigmoid", "invalid param: '", param,
            "' (use clamp or sigmoid)");
}

json InversionOptions::to_json() const {
  return {{"steps", steps}, {"lr", lr}, {"validity", validity},     {"l1", l1},
          {"l2", l2},       {"tv", tv}, {"confidence", confidence}, {"param", param}};
}

InversionOptions InversionOptions::from_json(const json& j) {
  InversionOptions o;
  check_option_keys("pixel", j, o.to_json());
  read_option(j, "steps", o.steps);
  read_option(j, "lr", o.lr);
  read_option(j, "validity", o.validity);
  read_option(j, "l1", o.l1);
  read_option(j, "l2", o.l2);
  read_option(j, "tv", o.tv);
  read_option(j, "confidence", o.confidence);
  read_option(j, "param", o.param);
  o.validate();
  return o;
}

torch::Tensor total_variation(const torch::Tensor& x) {
  auto dh = (x.slice(2, 1) - x.slice(2, 0, -1)).abs().flatten(1).mean(1);
  auto dw = (x.slice(3, 1) - x.slice(3, 0, -1)).abs().flatten(1).mean(1);
  return dh + dw;
}

PixelInversion::PixelInversion(InversionOptions options) : options_(std::move(options)) {
  options_.validate();
}

json PixelInversion::config() const {
  return {{"method", name()}, {"options", options_.to_json()}};
}

Result PixelInversion::run(const Request& req) {
  req.validate();
  auto t0 = std::chrono::steady_clock::now();
  const auto& o = options_;
  seed_all(req.seed);
  auto& F = *req.classifier;
  F.to(req.device);
  const int64_t n = req.images.size(0);
  auto x0 = req.images.to(req.device, torch::kFloat32);
  auto targets = req.targets.to(req.device);

  // The optimised variable; "sigmoid" keeps x̄ in (0,1) smoothly, "clamp" projects.
  constexpr double eps = 1e-3;
  auto param = o.param == "sigmoid" ? torch::logit(x0.clamp(eps, 1 - eps)) : x0.clone();
  param.set_requires_grad(true);
  auto image_of = [&](const torch::Tensor& p) {
    return o.param == "sigmoid" ? torch::sigmoid(p) : p;
  };
  torch::optim::Adam opt({param}, torch::optim::AdamOptions(o.lr));

  Result res;
  res.steps = torch::zeros({n}, torch::kLong);
  res.converged = torch::zeros({n}, torch::kBool);
  res.target_prob_trace.assign(n, {});
  res.loss_trace.assign(n, {});
  auto active = torch::ones({n}, torch::kBool);  // CPU bookkeeping
  auto frozen = torch::zeros_like(x0);           // x̄ of items that have stopped

  for (int64_t step = 0; step <= o.steps; ++step) {
    auto idx = active.nonzero().flatten();
    if (idx.numel() == 0) break;
    auto idx_dev = idx.to(req.device);
    auto xa = image_of(param.index_select(0, idx_dev));
    auto x0a = x0.index_select(0, idx_dev);
    auto ta = targets.index_select(0, idx_dev);
    auto logits = F.logits(xa);
    auto logp = torch::log_softmax(logits, 1);
    auto pt = logp.gather(1, ta.unsqueeze(1)).squeeze(1).exp();
    auto done = (logits.argmax(1) == ta) & (pt >= o.confidence);

    // Per-item loss, summed: each item's gradient does not depend on the rest of the batch.
    auto diff = (xa - x0a).flatten(1);
    auto loss = o.validity * torch::nll_loss(logp, ta, {}, at::Reduction::None) +
                o.l1 * diff.abs().mean(1) + o.l2 * diff.pow(2).mean(1) + o.tv * total_variation(xa);

    auto done_c = done.cpu();
    auto pt_c = pt.detach().cpu();
    auto loss_c = loss.detach().cpu();
    auto ia = idx.accessor<int64_t, 1>();
    for (int64_t k = 0; k < idx.numel(); ++k) {
      int64_t i = ia[k];
      res.target_prob_trace[i].push_back(pt_c[k].item<float>());
      res.loss_trace[i].push_back(loss_c[k].item<float>());
      if (done_c[k].item<bool>() || step == o.steps) {
        res.steps[i] = step;
        res.converged[i] = done_c[k].item<bool>();
        active[i] = false;
      }
    }
    {
      torch::NoGradGuard ng;
      auto stopped = idx.masked_select(~active.index_select(0, idx));
      if (stopped.numel()) {
        auto s_dev = stopped.to(req.device);
        auto local = (~active.index_select(0, idx)).nonzero().flatten().to(req.device);
        frozen.index_copy_(0, s_dev, xa.detach().index_select(0, local));
      }
    }
    if (step == o.steps || !active.any().item<bool>()) break;

    opt.zero_grad();
    // Stopped items are still in this step's loss; mask them out of the gradient.
    auto keep = active.index_select(0, idx).to(req.device, torch::kFloat32);
    (loss * keep).sum().backward();
    opt.step();
    {
      torch::NoGradGuard ng;
      if (o.param == "clamp") param.clamp_(0, 1);
    }
    if (req.progress) req.progress(step + 1, o.steps, active.sum().item<int64_t>());
  }
  res.counterfactuals = frozen.cpu();
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace cfx
