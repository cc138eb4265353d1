#include "cfx/methods/aip/aip.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "cfx/core/error.h"
#include "cfx/methods/options.h"

using nlohmann::json;

namespace cfx {

void AipOptions::validate() const {
  CFX_CHECK(optimise == "za" || optimise == "z" || optimise == "a", "aip option optimise = '",
            optimise, "' (use za, z or a)");
  search.validate();
}

json AipOptions::to_json() const {
  json j = search.to_json();
  j.erase("optimise_z");
  j.erase("optimise_a");
  j["cvae"] = cvae;
  j["attributes"] = attributes;
  j["optimise"] = optimise;
  j["edit"] = edit;
  return j;
}

AipOptions AipOptions::from_json(const json& j) {
  AipOptions o;
  check_option_keys("aip", j, o.to_json());
  read_option(j, "cvae", o.cvae);
  read_option(j, "attributes", o.attributes);
  read_option(j, "optimise", o.optimise);
  read_option(j, "edit", o.edit);
  o.search.read(j, false);  // the optimise option sets optimise_z/optimise_a
  o.validate();
  return o;
}

AipCounterfactual::AipCounterfactual(AipOptions options) : options_(std::move(options)) {
  options_.validate();
  options_.search.optimise_z = options_.optimise.find('z') != std::string::npos;
  options_.search.optimise_a = options_.optimise.find('a') != std::string::npos;
}

const AipModels& AipCounterfactual::models(const Classifier& F) {
  std::lock_guard<std::mutex> lock(models_mutex_);
  if (!models_.cvae) models_ = load_aip_models(options_.cvae, options_.attributes, &F);
  return models_;
}

json AipCounterfactual::config() const {
  json o = options_.to_json();
  std::lock_guard<std::mutex> lock(models_mutex_);
  // The files actually used, so a run can be repeated even when they were found by default.
  if (models_.cvae) {
    o["cvae"] = models_.cvae_path;
    o["attributes"] = models_.attributes_path;
  }
  return {{"method", name()}, {"options", o}};
}

Result AipCounterfactual::run(const Request& request) {
  request.validate();
  auto start = std::chrono::steady_clock::now();
  auto& F = *request.classifier;
  const auto& models = this->models(F);
  auto& G = *models.cvae;
  auto& D = *models.attributes;
  G.to(request.device);
  D.to(request.device);
  F.to(request.device);

  auto x = request.images.to(request.device);
  auto targets = request.targets.to(request.device, torch::kLong);
  Result r;
  torch::Tensor a0, z0;
  {
    torch::NoGradGuard ng;
    a0 = D.probs(x).to(request.device);
    z0 = G.encode(x, a0);
    auto rec = G.decode(z0, a0);
    r.reconstruction = rec.cpu();
    r.reconstruction_error = (rec - x).pow(2).flatten(1).mean(1).cpu();
    // Where F already decides the target on G(E(x), a0), the search has nothing to do: the
    // counterfactual is the generator's error, not an explanation.
    auto p_rec = torch::softmax(F.logits(rec), 1);
    r.attribute_shift.base_class = p_rec.argmax(1).cpu();
    r.attribute_shift.base_target_prob = p_rec.gather(1, targets.unsqueeze(1)).squeeze(1).cpu();
  }
  auto logits = [&](const torch::Tensor& z, const torch::Tensor& a, const torch::Tensor&) {
    return F.logits(G.decode(z, a));
  };
  // Attributes outside `edit` stay at a0 (the search's `fixed` mask).
  torch::Tensor fixed;
  if (!options_.edit.empty()) {
    fixed = torch::ones({D.size()}, torch::kBool);
    for (int64_t k : attribute_indices(D, options_.edit, "aip option edit")) fixed[k] = false;
  }
  auto s = aip_search(logits, z0, a0, targets, options_.search, request.progress,
                      D.exclusive().to(request.device), fixed);
  {
    torch::NoGradGuard ng;
    auto cf = G.decode(s.z, s.a);
    r.counterfactuals = cf.cpu();
    r.attribute_shift.read = D.probs(cf).cpu();
  }
  r.steps = s.steps;
  r.converged = s.converged;
  r.target_prob_trace = std::move(s.target_prob_trace);
  r.loss_trace = std::move(s.loss_trace);
  r.attribute_shift.names = D.names();
  r.attribute_shift.before = a0.cpu();
  r.attribute_shift.after = s.a.cpu();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::string describe_attribute_changes(const std::vector<std::string>& names,
                                       const torch::Tensor& before, const torch::Tensor& after,
                                       double min_change) {
  auto d = (after - before).to(torch::kDouble).contiguous();
  CFX_ASSERT(d.numel() == static_cast<int64_t>(names.size()));
  auto da = d.accessor<double, 1>();
  std::vector<size_t> order;
  for (size_t k = 0; k < names.size(); ++k)
    if (std::abs(da[k]) >= min_change) order.push_back(k);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t i, size_t j) { return std::abs(da[i]) > std::abs(da[j]); });
  if (order.empty()) return "no attribute changed";
  std::string out;
  for (size_t k : order) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %+.2f", da[k]);
    out += (out.empty() ? "" : ", ") + names[k] + buf;
  }
  return out;
}

}  // namespace cfx
