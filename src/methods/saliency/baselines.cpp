#include "cfx/methods/saliency/baselines.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>

#include "cfx/core/error.h"
#include "cfx/core/seed.h"
#include "cfx/methods/options.h"
#include "cfx/methods/saliency/fido.h"

using nlohmann::json;

namespace cfx {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One pass, nothing to stop early: every item took `steps` and is done.
void finish_one_shot(Result& r, int64_t n, int64_t steps) {
  r.steps = torch::full({n}, steps, torch::kLong);
  r.converged = torch::ones({n}, torch::kBool);
}

}  // namespace

torch::Tensor normalize_maps(const torch::Tensor& maps) {
  auto m = maps.clamp_min(0);
  auto top = m.flatten(1).amax(1).view({-1, 1, 1, 1});
  return torch::where(top > 0, m / top.clamp_min(1e-12), torch::zeros_like(m));
}

json GradientOptions::to_json() const { return {{"absolute", absolute}}; }

GradientOptions GradientOptions::from_json(const json& j) {
  GradientOptions o;
  check_option_keys("gradient", j, o.to_json());
  read_option(j, "absolute", o.absolute);
  return o;
}

json GradientSaliency::config() const {
  return {{"method", "gradient"}, {"options", options_.to_json()}};
}

Result GradientSaliency::run(const Request& req) {
  req.validate();
  auto t0 = std::chrono::steady_clock::now();
  auto& F = *req.classifier;
  F.to(req.device);  // a no-op where it is already
  auto x = req.images.to(req.device, torch::kFloat32).detach().requires_grad_(true);
  auto t = req.targets.to(req.device, torch::kLong);
  auto logp = torch::log_softmax(F.logits(x), 1).gather(1, t.unsqueeze(1));
  auto g = torch::autograd::grad({logp.sum()}, {x})[0];
  auto a = options_.absolute ? g.abs() : g.clamp_min(0);
  Result r;
  r.saliency = normalize_maps(std::get<0>(a.max(1, true))).detach().cpu();
  finish_one_shot(r, x.size(0), 1);
  if (req.progress) req.progress(1, 1, 0);
  r.seconds = seconds_since(t0);
  return r;
}

void OcclusionOptions::validate() const {
  CFX_CHECK(patch >= 1 && patch <= 1024, "invalid patch: ", patch, " (use 1 to 1024 pixels)");
  CFX_CHECK(stride >= 1 && stride <= 1024, "invalid stride: ", stride, " (use 1 to 1024)");
  CFX_CHECK(batch >= 1, "invalid batch: ", batch, " (use >= 1)");
  check_infiller_name(infill);
  infill_options.validate();
}

json OcclusionOptions::to_json() const {
  json j = {{"patch", patch}, {"stride", stride}, {"infill", infill}, {"batch", batch}};
  j.update(infill_options.to_json());
  return j;
}

OcclusionOptions OcclusionOptions::from_json(const json& j) {
  OcclusionOptions o;
  check_option_keys("occlusion", j, o.to_json());
  read_option(j, "patch", o.patch);
  read_option(j, "stride", o.stride);
  read_option(j, "infill", o.infill);
  read_option(j, "batch", o.batch);
  o.infill_options.read(j);
  o.validate();
  return o;
}

OcclusionSaliency::OcclusionSaliency(OcclusionOptions options) : options_(std::move(options)) {
  options_.validate();
}

json OcclusionSaliency::config() const {
  return {{"method", "occlusion"}, {"options", options_.to_json()}};
}

Result OcclusionSaliency::run(const Request& req) {
  req.validate();
  auto t0 = std::chrono::steady_clock::now();
  const auto& o = options_;
  seed_all(req.seed);
  torch::NoGradGuard ng;
  auto& F = *req.classifier;
  F.to(req.device);  // a no-op where it is already
  auto x = req.images.to(req.device, torch::kFloat32);
  auto t = req.targets.to(req.device, torch::kLong);
  const int64_t n = x.size(0), H = x.size(2), W = x.size(3);
  InfillOptions io = o.infill_options;
  if (o.infill == "inpainter") io.inpainter = resolve_inpainter_path(io.inpainter, F);
  auto infiller = make_infiller(o.infill, io, req.device);
  // A stochastic in-filler (random, a sampling inpainter) fills all of an item's squares from
  // one draw of the item's own: noise from a generator seeded with the run's seed plus the
  // item's index. Batches are seeded with the request's seed plus their first index, so the
  // draw does not depend on the batch, and runs can go side by side.
  const int64_t zdim = infiller->noise_dim(x.size(1), H, W);
  torch::Tensor noise;  // [n, zdim]
  if (zdim > 0) {
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < n; ++i) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(req.seed + static_cast<uint64_t>(i));
      rows.push_back(torch::randn({1, zdim}, gen, torch::kFloat));
    }
    noise = torch::cat(rows).to(x.device());
  }

  // Square positions: a regular grid whose last row/column touches the border.
  std::vector<int64_t> ys, xs;
  const int64_t ph = std::min(o.patch, H), pw = std::min(o.patch, W);
  for (int64_t y = 0;; y += o.stride) {
    ys.push_back(std::min(y, H - ph));
    if (y + ph >= H) break;
  }
  for (int64_t v = 0;; v += o.stride) {
    xs.push_back(std::min(v, W - pw));
    if (v + pw >= W) break;
  }
  std::vector<torch::Tensor> keeps;
  for (auto y : ys)
    for (auto v : xs) {
      auto k = torch::ones({1, 1, H, W}, x.options());
      k.slice(2, y, y + ph).slice(3, v, v + pw).zero_();
      keeps.push_back(k);
    }
  auto K = torch::cat(keeps, 0);  // [P, 1, H, W]
  const int64_t P = K.size(0);
  auto p0 = torch::softmax(F.logits(x), 1).gather(1, t.unsqueeze(1));  // [n, 1]
  auto drop_sum = torch::zeros({n, 1, H, W}, x.options());
  auto cover = (1 - K).sum(0, true);  // [1, 1, H, W]
  // Items × positions, flattened and processed in chunks of o.batch occluded images.
  for (int64_t s = 0; s < n * P; s += o.batch) {
    int64_t e = std::min(n * P, s + o.batch);
    auto flat = torch::arange(s, e, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    auto item = flat.div(P, "floor"), pos = flat.remainder(P);
    auto xi = x.index_select(0, item), ki = K.index_select(0, pos);
    auto zi = zdim > 0 ? noise.index_select(0, item) : torch::Tensor();
    auto p = torch::softmax(F.logits(composite(*infiller, xi, ki, zi)), 1)
                 .gather(1, t.index_select(0, item).unsqueeze(1));
    auto drop = (p0.index_select(0, item) - p).view({-1, 1, 1, 1}) * (1 - ki);
    drop_sum.index_add_(0, item, drop);
    if (req.progress) req.progress(e, n * P, n - e / P);
  }
  Result r;
  r.saliency = normalize_maps(drop_sum / cover.clamp_min(1)).cpu();
  finish_one_shot(r, n, P);
  r.seconds = seconds_since(t0);
  return r;
}

}  // namespace cfx
