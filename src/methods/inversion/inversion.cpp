// The inversion engine: prior fit, then the staged counterfactual search with per-item
// early stopping. Every per-item quantity lives in a row of a [N, ...] tensor; the loop only
// touches the rows of items still running.
#include "cfx/methods/inversion/inversion.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>

#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/core/surface.h"
#include "cfx/core/tensor.h"
#include "cfx/methods/inversion/batched_adam.h"
#include "cfx/methods/inversion/terms.h"

using nlohmann::json;

namespace cfx {

namespace {

// What the run will actually use, after checking the classifier.
struct Terms {
  double bn = 0, duq = 0, loss_head = 0;
  std::vector<std::string> feature_layers;
  std::vector<BNLayer> bn_layers;
};

// Rows of `flags` ([n] bool, CPU) that are set, as positions into `idx` and as item indices.
std::vector<int64_t> set_rows(const torch::Tensor& flags) {
  auto nz = flags.nonzero().flatten();
  return std::vector<int64_t>(nz.data_ptr<int64_t>(), nz.data_ptr<int64_t>() + nz.numel());
}

}  // namespace

Inversion::Inversion(std::string preset, InversionOptions options)
    : preset_(std::move(preset)), options_(std::move(options)) {
  options_.validate();
}

json Inversion::config() const { return {{"method", preset_}, {"options", options_.to_json()}}; }

Result Inversion::run(const Request& req) {
  req.validate();
  auto t0 = std::chrono::steady_clock::now();
  const auto& o = options_;
  // The run's own random stream (not torch's global one), so chunks can run at once on
  // several threads (Method::concurrent_runs) and still draw what a serial run draws.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(req.seed);
  auto& F = *req.classifier;
  F.to(req.device);  // a no-op where it is already
  const int64_t n = req.images.size(0);
  auto x0 = req.images.to(req.device, torch::kFloat32);
  auto targets = req.targets.to(req.device, torch::kLong);

  // --- which terms apply to this classifier
  auto note_once = [&](const std::string& msg) {
    std::lock_guard<std::mutex> lock(noticed_mutex_);
    if (noticed_.insert(msg).second) notice(msg);
  };
  auto asked = [&](const std::string& key) { return o.given.count(key) > 0; };
  Terms terms;
  terms.bn = o.bn;
  terms.duq = o.duq;
  terms.loss_head = o.loss_head;
  if (o.manifold == "duq-or-bn") {
    if (F.has_head("duq")) {
      terms.bn = 0;
    } else {
      CFX_CHECK(!asked("duq"), preset_, ": duq was set but the model has no DUQ head (train it ",
                "with ", train_call("classifier", {{"head", "duq"}}), ")");
      if (o.duq > 0)
        note_once(preset_ + ": the model has no DUQ head; manifold consistency uses the " +
                  "batch-norm statistics prior instead");
      terms.duq = 0;
    }
  } else if (terms.duq > 0 && !F.has_head("duq")) {
    CFX_CHECK(!asked("duq"), preset_, ": duq was set but the model has no DUQ head (train it ",
              "with ", train_call("classifier", {{"head", "duq"}}), ")");
    note_once(preset_ + ": the model has no DUQ head; the DUQ term is off");
    terms.duq = 0;
  }
  if (terms.loss_head > 0 && !F.has_head("loss"))
    fail(preset_, ": the loss-estimator term needs a classifier trained with a loss head ", "(",
         train_call("classifier", {{"head", "loss"}, {"init", "MODEL"}, {"head-only", ""}}),
         ", which adds one to MODEL and keeps its classifier); ", F.info().source, " has none");
  if (terms.bn > 0) {
    terms.bn_layers = F.bn_layers();
    if (terms.bn_layers.empty()) {
      CFX_CHECK(!asked("bn"), preset_, ": bn was set but the model has no batch-norm layers");
      note_once(preset_ + ": the model has no batch-norm layers; the BN statistics prior is off");
      terms.bn = 0;
    }
  }
  if (o.feature > 0) {
    terms.feature_layers = o.feature_layers;
    if (terms.feature_layers.empty()) {
      auto all = F.feature_layers();
      all.erase(std::remove(all.begin(), all.end(), "logits"), all.end());
      if (all.empty()) {
        CFX_CHECK(!asked("feature"), preset_,
                  ": feature was set but the model exposes no feature layers");
        note_once(preset_ + ": the model exposes no feature layers; the feature term is off");
      } else {
        terms.feature_layers = {all[static_cast<size_t>(0.4 * (all.size() - 1))]};
      }
    }
  }
  const bool want_features = o.feature > 0 && !terms.feature_layers.empty();

  // --- the prior, fitted to each query
  auto prior = make_prior(o.prior);
  auto params = prior->init(x0, gen);
  Result res;
  res.prior_psnr = torch::full({n}, 100.0, torch::kFloat);
  // Progress counts the fit's steps before the search's: a DIP fit can take a while.
  const int64_t fit_total = prior->needs_fit() ? std::max<int64_t>(o.fit_steps, 0) : 0;
  if (prior->needs_fit() && o.fit_steps > 0) {
    // At the prior's resolution (below the query's for dip at dip_scale > 1).
    auto fit_x0 = prior->fit_target(x0);
    BatchedAdam fit(params, {o.fit_lr});
    auto running = torch::ones({n}, torch::kBool);
    for (int64_t s = 0; s <= o.fit_steps; ++s) {
      auto idx = running.nonzero().flatten();
      if (idx.numel() == 0) break;
      auto idx_dev = idx.to(req.device);
      auto ps = fit.gather(idx_dev);
      auto xr = prior->fit_render(ps, idx_dev);
      auto target = fit_x0.index_select(0, idx_dev);
      // Fit to x pulled 0.01 inside [0, 1]: exact 0 or 1 would drive the sigmoid outputs of
      // dip/inr into saturation, where Adam's epsilon swamps the vanishing gradient and the
      // fit stalls (seen on Fashion-MNIST's black backgrounds).
      auto mse = (xr - target.clamp(0.01, 0.99)).pow(2).flatten(1).mean(1);
      auto q = psnr(xr.detach(), target).cpu();  // the step's one copy to the host
      res.prior_psnr.index_copy_(0, idx, q);
      auto done = (q >= o.fit_psnr) | (s == o.fit_steps);
      running.index_put_({idx}, ~done);
      if (s == o.fit_steps || !running.any().item<bool>()) break;
      auto keep = (~done).to(req.device, torch::kFloat);
      (mse * keep).sum().backward();
      fit.step(idx_dev, ps, ~done);
      if (req.progress) req.progress(s + 1, fit_total + o.steps, n);
    }
    params = fit.params();
  }
  if (prior->needs_fit()) prior->fitted(params);

  // --- reference activations of the queries
  std::map<std::string, torch::Tensor> ref_features;
  if (want_features) {
    torch::NoGradGuard ng;
    ref_features = F.capture(x0, terms.feature_layers, false).features;
  }

  // --- the staged search
  std::vector<double> taus = o.stages.empty() ? std::vector<double>{o.confidence} : o.stages;
  const int64_t S = static_cast<int64_t>(taus.size());
  const double final_p = std::max(taus.back(), o.confidence);
  auto tau_of = torch::tensor(taus, torch::kDouble).to(torch::kFloat);
  auto tau_of_dev = tau_of.to(req.device);
  const bool coarse_ok = o.coarse_stages > 0 && o.prior.prior != "dip";

  BatchedAdam adam(params, {o.lr});
  res.steps = torch::zeros({n}, torch::kLong);
  res.converged = torch::zeros({n}, torch::kBool);
  res.target_prob_trace.assign(n, {});
  res.loss_trace.assign(n, {});
  auto active = torch::ones({n}, torch::kBool);
  auto stage = torch::zeros({n}, torch::kLong);
  auto in_stage = torch::zeros({n}, torch::kLong);
  auto frozen = torch::zeros_like(x0);
  auto stage_images = torch::zeros({n, S, x0.size(1), x0.size(2), x0.size(3)}, x0.options());

  for (int64_t step = 0; step <= o.steps; ++step) {
    // The active rows and their stages live on the CPU, where the stop decisions are made;
    // they reach the device as one copy, and the results come back as one (a GPU waits at
    // each copy, so a step makes two).
    auto idx = active.nonzero().flatten();
    if (idx.numel() == 0) break;
    auto st = stage.index_select(0, idx);
    auto idx_st = torch::stack({idx, st}).to(req.device);
    auto idx_dev = idx_st[0], st_dev = idx_st[1];
    auto ps = adam.gather(idx_dev);
    auto xa = prior->render(ps, idx_dev);
    if (coarse_ok && (st < o.coarse_stages).any().item<bool>()) {
      auto coarse = (st_dev < o.coarse_stages).view({-1, 1, 1, 1});
      xa = torch::where(coarse, lowpass_gradient(xa, o.coarse_factor), xa);
    }
    auto x0a = x0.index_select(0, idx_dev);
    auto ta = targets.index_select(0, idx_dev);
    Capture cap =
        want_features || terms.bn > 0 || terms.duq > 0 || terms.loss_head > 0
            ? F.capture(xa, want_features ? terms.feature_layers : std::vector<std::string>{},
                        terms.bn > 0)
            : Capture{F.logits(xa)};
    auto logp = torch::log_softmax(cap.logits, 1);
    auto pt = logp.gather(1, ta.unsqueeze(1)).squeeze(1).exp();
    auto last = st_dev == S - 1;
    auto tau = tau_of_dev.index_select(0, st_dev);
    auto ce = torch::nll_loss(logp, ta, {}, at::Reduction::None);
    auto diff = (xa - x0a).flatten(1);
    auto loss = o.validity * torch::where(last, ce, validity_hinge(logp, ta, tau)) +
                o.l1 * diff.abs().mean(1) + o.l2 * diff.pow(2).mean(1);
    if (o.tv > 0) loss = loss + o.tv * total_variation(xa);
    if (want_features) {
      std::map<std::string, torch::Tensor> ref;
      for (auto& [k, v] : ref_features) ref[k] = v.index_select(0, idx_dev);
      loss = loss + o.feature * feature_consistency(cap.features, ref);
    }
    if (terms.bn > 0) loss = loss + terms.bn * bn_statistics_prior(cap.bn_inputs, terms.bn_layers);
    if (terms.duq > 0) {
      CFX_ASSERT(cap.duq.defined());
      auto kt = cap.duq.gather(1, ta.unsqueeze(1)).squeeze(1);
      loss = loss - terms.duq * kt.clamp_min(1e-12).log();
    }
    if (terms.loss_head > 0) {
      CFX_ASSERT(cap.loss_estimate.defined());
      loss = loss + terms.loss_head * cap.loss_estimate;
    }

    // Bookkeeping on the CPU: stage advances, stops, snapshots.
    auto back = to_host_rows({pt, loss, cap.logits.argmax(1) == ta});
    auto pt_c = back[0], loss_c = back[1];
    auto argmax_ok = back[2] > 0.5;
    auto last_c = st == S - 1;
    auto tau_c = tau_of.index_select(0, st);
    in_stage.index_add_(0, idx, torch::ones_like(idx));
    auto done = last_c & argmax_ok & (pt_c >= final_p) & (step >= o.min_steps);
    auto advance = ~last_c & (pt_c >= tau_c) & (in_stage.index_select(0, idx) > o.stage_min_steps);
    auto stop = done | (step == o.steps);
    auto xd = xa.detach();
    {
      torch::NoGradGuard ng;
      for (int64_t k : set_rows(advance)) {
        int64_t i = idx[k].item<int64_t>(), s = stage[i].item<int64_t>();
        stage_images[i][s].copy_(xd[k]);
        stage[i] = s + 1;
        in_stage[i] = 0;
      }
      for (int64_t k : set_rows(stop)) {
        int64_t i = idx[k].item<int64_t>();
        for (int64_t s = stage[i].item<int64_t>(); s < S; ++s) stage_images[i][s].copy_(xd[k]);
        frozen[i].copy_(xd[k]);
        res.steps[i] = step;
        res.converged[i] = done[k].item<bool>();
        active[i] = false;
      }
    }
    auto pa = pt_c.accessor<float, 1>();
    auto la = loss_c.accessor<float, 1>();
    auto ia = idx.accessor<int64_t, 1>();
    for (int64_t k = 0; k < idx.numel(); ++k) {
      res.target_prob_trace[ia[k]].push_back(pa[k]);
      res.loss_trace[ia[k]].push_back(la[k]);
    }
    if (step == o.steps || !active.any().item<bool>()) break;

    // Stopped items are still in this step's loss; mask them out and update the rest.
    auto [rows, keep] = rows_to_keep(stop, loss);
    (loss * keep).sum().backward();
    adam.step_rows(idx_dev, ps, rows);
    prior->project(adam.params());
    if (req.progress)
      req.progress(fit_total + step + 1, fit_total + o.steps, active.sum().item<int64_t>());
  }
  res.counterfactuals = frozen.cpu();
  res.stage_images = S > 1 ? stage_images.cpu() : torch::Tensor();
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace cfx
