#include "cfx/methods/aip/search.h"

#include <cmath>
#include <limits>

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
  CFX_CHECK(attribute_step == "gradient" || attribute_step == "greedy", label, "attribute_step = '",
            attribute_step, "' (use gradient or greedy)");
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
          {p + "attribute_step", attribute_step},
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
  read_option(j, p + "attribute_step", attribute_step);
  if (!optimise_flags) return;
  read_option(j, p + "optimise_z", optimise_z);
  read_option(j, p + "optimise_a", optimise_a);
}

namespace {

// A probe that moves no coordinate of a by more than this is not run (it is staying).
constexpr double kProbeMinMove = 1e-3;

// The greedy move (see search.h). z: [m, L], a, a0: [m, K] of the rows still searching, idx:
// [m] their batch rows, t: [m] targets, stay: [m] CE + beta·‖a − a0‖₁ at (z, a) (the search
// loop has it already), exclusive: [K, K] bool or undefined, fixed: [K] bool or undefined.
// Returns the moved a [m, K].
torch::Tensor greedy_attribute_step(const AipLogitsFn& logits_of, const torch::Tensor& z,
                                    const torch::Tensor& a, const torch::Tensor& a0,
                                    const torch::Tensor& idx, const torch::Tensor& t,
                                    const torch::Tensor& stay, const torch::Tensor& exclusive,
                                    const torch::Tensor& fixed, const AipSearchOptions& o) {
  const int64_t m = a.size(0), K = a.size(1), P = 2 * K;
  // Probe p = 2k + e sets attribute k to e ∈ {0, 1}: the generator's one-factor edits. Switching
  // k on switches its exclusive partners off (the one-hot moves, as the cvae was trained to);
  // rows are item-major [m·P].
  auto eye = torch::eye(K, a.options());
  auto on_mask = exclusive.defined() ? eye + exclusive.to(a.options()) : eye;   // [K, K]
  auto touched = torch::stack({eye, on_mask}, 1).reshape({P, K});               // [P, K]
  auto value = torch::stack({torch::zeros_like(eye), eye}, 1).reshape({P, K});  // [P, K]
  auto probes = a.unsqueeze(1) * (1 - touched) + value;                         // [m, P, K]
  auto loss_of = [&](const torch::Tensor& zz, const torch::Tensor& aa, const torch::Tensor& ii,
                     const torch::Tensor& tt, const torch::Tensor& anchor) {
    auto logp = torch::log_softmax(logits_of(zz, aa, ii), 1);
    return torch::nll_loss(logp, tt, {}, at::Reduction::None) + o.beta * (aa - anchor).abs().sum(1);
  };
  // Only probes that move a are run: not a member of a group switched off alone (the group
  // moves to another member; the cvae never saw a group with no member on), and not one whose
  // attribute is already at that end (at a one-hot a0 more than half of them), which would
  // cost a pass to learn what staying costs.
  auto run = (probes - a.unsqueeze(1)).abs().amax(2) > kProbeMinMove;  // [m, P]
  if (exclusive.defined()) {
    auto grouped = exclusive.any(1).to(a.device());  // [K]
    run &= ~torch::stack({grouped, torch::zeros_like(grouped)}, 1).reshape({1, P});
  }
  // Nor one that would move a fixed attribute (switching a group member on moves its partners).
  if (fixed.defined())
    run &= ~((touched > 0.5) & fixed.to(a.device()).view({1, K})).any(1).view({1, P});
  auto sel = run.flatten().nonzero().flatten();  // rows of [m·P] to run
  auto probe_loss = torch::full({m * P}, std::numeric_limits<float>::infinity(), a.options());
  if (sel.numel() > 0) {
    auto item = sel.div(P, "floor");
    auto pick = [&](const torch::Tensor& v) { return v.index_select(0, item); };
    probe_loss.index_put_({sel}, loss_of(pick(z), probes.reshape({m * P, K}).index_select(0, sel),
                                         pick(idx), pick(t), pick(a0)));
  }
  probe_loss = probe_loss.view({m, P});
  auto [best, p] = probe_loss.min(1);
  // Towards the best probe, its largest coordinate moving by attribute_lr (or all the way).
  auto dir = probes.gather(1, p.view({m, 1, 1}).expand({m, 1, K})).squeeze(1) - a;
  auto far = dir.abs().amax(1, true).clamp_min(1e-12);
  auto lambda = (o.attribute_lr / far).clamp_max(1) * (best < stay).to(a.dtype()).unsqueeze(1);
  return (a + lambda * dir).clamp(0, 1);
}

}  // namespace

AipSearchResult aip_search(const AipLogitsFn& logits_of, const torch::Tensor& z0,
                           const torch::Tensor& a0, const torch::Tensor& targets,
                           const AipSearchOptions& o, const ProgressFn& progress,
                           const torch::Tensor& exclusive, const torch::Tensor& fixed) {
  o.validate();
  CFX_ASSERT(z0.dim() == 2 && a0.dim() == 2 && targets.dim() == 1);
  CFX_ASSERT(z0.size(0) == a0.size(0) && z0.size(0) == targets.size(0));
  CFX_ASSERT(!fixed.defined() || (fixed.dim() == 1 && fixed.size(0) == a0.size(1)));
  // 1 where an attribute may move: the gradient step's slope is zeroed elsewhere, so neither
  // its normalisation nor its prox ever moves a fixed attribute off a0.
  auto movable =
      fixed.defined() ? (~fixed.to(torch::kBool)).to(a0.options()).view({1, -1}) : torch::Tensor();
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
    auto ce = torch::nll_loss(logp, ta, {}, at::Reduction::None);
    auto l1 = (ps[1] - a0a).abs().sum(1);
    auto smooth = ce + o.alpha * (ps[0] - z_anchor.index_select(0, idx_dev)).pow(2).sum(1);
    auto loss = smooth + o.beta * l1;

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
    if (o.optimise_a && o.attribute_step == "greedy") {
      // (a structured binding cannot be captured in C++17: clang refuses it)
      auto pick = [r = rows](const torch::Tensor& v) { return v.index_select(0, r); };
      auto a_new = greedy_attribute_step(logits_of, pick(ps[0].detach()), pick(ps[1].detach()),
                                         pick(a0a), pick(idx_dev), pick(ta),
                                         pick((ce + o.beta * l1).detach()), exclusive, fixed, o);
      res.a.index_copy_(0, idx_dev.index_select(0, rows), a_new);
    } else if (o.optimise_a && ps[1].grad().defined()) {
      auto g = movable.defined() ? ps[1].grad() * movable : ps[1].grad();
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
