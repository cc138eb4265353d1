// The FIDO optimisation. Per item, a logit grid ℓ [1, g, g] with θ = σ(ℓ) the drop-out
// probability of each cell. Each step draws M Concrete keep-masks per item, in-fills the
// dropped pixels (the in-filler sees the hard mask and passes no gradient), and moves ℓ to
// keep (SSR) or destroy (SDR) the class score s_c (log-odds by default) at the smallest mask
// cost. Items stop once their mask no
// longer moves; BatchedAdam keeps them independent of the rest of the batch.
#include "cfx/methods/saliency/fido.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/seed.h"
#include "cfx/core/surface.h"
#include "cfx/methods/inversion/batched_adam.h"
#include "cfx/models/companions.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace cfx {

namespace {

// SDR's score is floored: once the class is destroyed (p_c < 1e-3) there is nothing left to
// gain, and an unbounded −∞ pull would outweigh any mask cost.
constexpr double kLogFloor = -6.907755;      // log(1e-3)
constexpr double kLogOddsFloor = -6.906755;  // log(1e-3 / (1 − 1e-3))

// Total variation of θ [n, 1, g, g] per item: mean absolute difference of neighbours.
torch::Tensor tv_per_item(const torch::Tensor& t) {
  auto dx = (t.slice(3, 1) - t.slice(3, 0, -1)).abs().flatten(1);
  auto dy = (t.slice(2, 1) - t.slice(2, 0, -1)).abs().flatten(1);
  auto zero = torch::zeros({t.size(0)}, t.options());
  return (dx.numel() ? dx.mean(1) : zero) + (dy.numel() ? dy.mean(1) : zero);
}

}  // namespace

torch::Tensor fido_class_score(const torch::Tensor& logits, const torch::Tensor& targets,
                               const std::string& score) {
  auto t = targets.unsqueeze(1);
  auto own = logits.gather(1, t).squeeze(1);
  if (score == "log-prob") return own - torch::logsumexp(logits, 1);
  CFX_CHECK(score == "log-odds", "invalid score: '", score, "' (use log-odds or log-prob)");
  // The other classes' log-sum-exp, with the target's logit masked to −∞: exact where
  // log(1 − p_c) would round to log 0 for a confident class.
  auto others = logits.scatter(1, t, -std::numeric_limits<float>::infinity());
  return own - torch::logsumexp(others, 1);
}

std::string resolve_inpainter_path(const std::string& explicit_path, const Classifier& F) {
  auto path = find_companion(explicit_path, &F, "inpainter");
  if (!path.empty()) return path;
  fail("the inpainter in-filler needs a checkpoint: set the option inpainter=PATH (train one ",
       "with ", train_call("inpainter", {{"data", "D"}, {"out", "PATH"}}),
       ") or choose another in-filler (infill=blur)");
}

Fido::Fido(std::string preset, FidoOptions options)
    : preset_(std::move(preset)), options_(std::move(options)) {
  options_.validate();
}

json Fido::config() const { return {{"method", preset_}, {"options", options_.to_json()}}; }

Result Fido::run(const Request& req) {
  req.validate();
  auto t0 = std::chrono::steady_clock::now();
  const auto& o = options_;
  seed_all(req.seed);
  // The run's random stream. On the CPU a generator of its own (same numbers as the global
  // one after seed_all), so batches may run side by side (concurrent_runs); on a GPU the
  // device's default generator, seeded above: a draw on the host would add a copy per step.
  at::Generator gen =
      req.device.is_cpu() ? at::make_generator<at::CPUGeneratorImpl>(req.seed) : at::Generator();
  auto& F = *req.classifier;
  F.to(req.device);  // a no-op where it is already
  const int64_t n = req.images.size(0), H = req.images.size(2), W = req.images.size(3);
  const int64_t gh = (H + o.cell - 1) / o.cell, gw = (W + o.cell - 1) / o.cell;
  const int64_t M = o.deterministic ? 1 : o.samples;
  auto x = req.images.to(req.device, torch::kFloat32);
  auto targets = req.targets.to(req.device, torch::kLong);

  InfillOptions io = o.infill_options;
  if (o.infill == "inpainter") io.inpainter = resolve_inpainter_path(io.inpainter, F);
  auto infiller = make_infiller(o.infill, io, req.device);
  // > 0: a stochastic in-filler (generative or random), sampled per draw from the run's noise
  const int64_t zdim = infiller->noise_dim(req.images.size(1), H, W);

  const bool ssr = o.objective == "ssr";
  auto logits0 = torch::full({n, 1, gh, gw}, std::log(o.init / (1 - o.init)), x.options());
  BatchedAdam adam({logits0}, BatchedAdamOptions{o.lr});
  auto active = torch::ones({n}, torch::kBool);
  auto steps = torch::zeros({n}, torch::kLong);
  auto converged = torch::zeros({n}, torch::kBool);
  auto snapshot = torch::sigmoid(logits0).detach().clone();
  Result res;
  res.loss_trace.assign(n, {});
  res.target_prob_trace.assign(n, {});
  const int64_t ramp = static_cast<int64_t>(std::ceil(o.lambda_ramp * o.steps));

  // Keep-masks at image resolution from the cells' drop-out logits: Concrete samples, or the
  // keep probability itself when deterministic. Returns [n·M, 1, H, W].
  auto keep_masks = [&](const torch::Tensor& logits, const torch::Tensor& noise) {
    torch::Tensor z;
    if (o.deterministic) {
      z = 1 - torch::sigmoid(logits);
    } else {
      auto l = logits.repeat_interleave(M, 0);
      z = 1 - torch::sigmoid((l + noise) / o.temperature);
    }
    return torch::upsample_bilinear2d(z, {gh * o.cell, gw * o.cell}, false)
        .slice(2, 0, H)
        .slice(3, 0, W);
  };

  for (int64_t step = 0; step < o.steps; ++step) {
    auto idx_cpu = active.nonzero().flatten();
    if (idx_cpu.numel() == 0) break;
    // Logistic noise for every item, every step, so an item's draws do not depend on which
    // other items are still running.
    auto u = torch::rand({n * M, 1, gh, gw}, gen, x.options()).clamp(1e-6, 1 - 1e-6);
    auto noise_all = (u.log() - (1 - u).log()).view({n, M, gh, gw});
    auto idx = idx_cpu.to(req.device);
    const int64_t na = idx.size(0);
    adam.set_lr(o.lr * (1.0 - static_cast<double>(step) / o.steps));
    auto params = adam.gather(idx);
    auto& lg = params[0];
    auto noise = noise_all.index_select(0, idx).reshape({na * M, 1, gh, gw});
    auto z = keep_masks(lg, noise);
    auto xr = x.index_select(0, idx).repeat_interleave(M, 0);
    auto hard = (z.detach() > 0.5).to(torch::kFloat);
    // A stochastic in-filler paints a fresh sample for every Concrete draw (the paper's M
    // samples of x̂ ~ G(x | mask)); its noise, like the mask noise, is drawn for every item.
    torch::Tensor xhat;
    if (zdim > 0) {
      auto z_all = torch::randn({n, M, zdim}, gen, x.options());
      auto z = z_all.index_select(0, idx).reshape({na * M, zdim});
      xhat = infiller->sample(xr, hard, z).detach();
    } else {
      xhat = infiller->infill(xr, hard).detach();
    }
    auto xt = z * xr + (1 - z) * xhat;
    auto tr = targets.index_select(0, idx).repeat_interleave(M, 0);
    auto lt = F.logits(xt);
    auto logp = torch::log_softmax(lt.detach(), 1).gather(1, tr.unsqueeze(1)).squeeze(1);
    auto p_mean = logp.exp().view({na, M}).mean(1);
    auto s = fido_class_score(lt, tr, o.score);
    if (!ssr) s = s.clamp_min(o.score == "log-odds" ? kLogOddsFloor : kLogFloor);
    auto score = s.view({na, M}).mean(1);
    auto theta = torch::sigmoid(lg);
    double lam =
        ramp > 0 ? o.lambda * std::min(1.0, static_cast<double>(step + 1) / ramp) : o.lambda;
    auto cost = ssr ? (1 - theta).flatten(1).mean(1) : theta.flatten(1).mean(1);
    auto loss = (ssr ? -score : score) + lam * cost;
    if (o.tv > 0) loss = loss + o.tv * tv_per_item(theta);
    loss.sum().backward();
    adam.step(idx, params);

    // Bookkeeping on CPU: traces, step counts, the stopping rule. One copy to the host.
    auto back = torch::stack({loss.detach().to(torch::kFloat), p_mean.to(torch::kFloat)}).cpu();
    auto idx_a = idx_cpu.accessor<int64_t, 1>();
    auto back_a = back.accessor<float, 2>();
    for (int64_t k = 0; k < na; ++k) {
      res.loss_trace[idx_a[k]].push_back(back_a[0][k]);
      res.target_prob_trace[idx_a[k]].push_back(back_a[1][k]);
    }
    steps.index_add_(0, idx_cpu, torch::ones({na}, torch::kLong));
    if (step + 1 >= ramp && (step + 1 - ramp) % o.patience == o.patience - 1) {
      torch::NoGradGuard ng;
      auto th = torch::sigmoid(adam.params()[0].index_select(0, idx));
      auto moved = (th - snapshot.index_select(0, idx)).abs().flatten(1).amax(1).cpu();
      snapshot.index_copy_(0, idx, th);
      auto done = idx_cpu.masked_select(moved <= o.tol);
      converged.index_fill_(0, done, true);
      active.index_fill_(0, done, false);
    }
    if (req.progress) req.progress(step + 1, o.steps, active.sum().item<int64_t>());
  }

  // The map and one in-filled image per item from the final mask: with samples, the hard
  // mask at θ = 0.5 (the mask's expectation, thresholded), so the image is reproducible.
  torch::NoGradGuard ng;
  auto theta = torch::sigmoid(adam.params()[0]);
  auto drop = torch::upsample_bilinear2d(theta, {gh * o.cell, gw * o.cell}, false)
                  .slice(2, 0, H)
                  .slice(3, 0, W);
  res.saliency = (ssr ? 1 - drop : drop).clamp(0, 1).cpu();
  auto keep = o.deterministic ? 1 - drop : (drop <= 0.5).to(torch::kFloat);
  // A stochastic in-filler shows its zero-noise draw (the inpainter's conditional mean, the
  // random in-filler's mid-grey): reproducible, and drawn from no generator.
  auto zero = zdim > 0 ? torch::zeros({n, zdim}, x.options()) : torch::Tensor();
  res.infilled = composite(*infiller, x, keep, zero).clamp(0, 1).cpu();
  res.steps = steps;
  res.converged = converged;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace cfx
