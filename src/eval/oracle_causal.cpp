#include "cfx/eval/oracle_causal.h"

#include <algorithm>

#include "cfx/core/error.h"
#include "cfx/methods/latent/latent.h"

namespace cfx {

namespace {

ShapesScenes rows(const ShapesScenes& s, int64_t begin, int64_t end) {
  ShapesScenes out = s;
  out.scenes = s.scenes.slice(0, begin, end);
  out.items = s.items.slice(0, begin, end);
  return out;
}

}  // namespace

InterventionSamples sample_oracle_interventions(Classifier& F, const std::vector<int64_t>& outcome,
                                                const ShapesScenes& scenes, int64_t batch_size,
                                                const std::string& only,
                                                const ProgressFn& progress) {
  CFX_CHECK(batch_size >= 1, "batch size must be at least 1, got ", batch_size);
  CFX_CHECK(scenes.size() >= 1, "no scenes to sample");
  const int64_t s = scenes.options.size;
  CFX_CHECK(F.input_shape() == std::vector<int64_t>({3, s, s}), "the oracle generator draws ", s,
            "x", s, " RGB shapes images, but the classifier ", F.info().source, " takes [",
            torch::IntArrayRef(F.input_shape()), "]");
  const OutcomeReader reader(F, outcome);
  const auto names = shapes_attribute_names();
  const auto ks = attribute_indices(
      static_cast<int64_t>(names.size()),
      [&](const std::string& name) -> int64_t {
        auto it = std::find(names.begin(), names.end(), name);
        if (it != names.end()) return it - names.begin();
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        fail("unknown attribute '", name, "'; the oracle generator (shapes) knows: ", known);
      },
      only);
  torch::NoGradGuard ng;
  auto k_idx = torch::tensor(ks, torch::kLong);
  // F's view of the rendered scenes, appended to the lists of the batch.
  auto view = [&](const ShapesScenes& sc, std::vector<torch::Tensor>& in_outcome,
                  std::vector<torch::Tensor>& prob) {
    torch::Tensor o, p;
    reader.read(render_shapes(sc).to(F.device()), o, p);
    in_outcome.push_back(o);
    prob.push_back(p);
  };
  const int64_t total = scenes.size();
  std::vector<torch::Tensor> attr, oc, pr, oon, ooff, pon, poff, ton, toff;
  for (int64_t i = 0; i < total; i += batch_size) {
    auto batch = rows(scenes, i, std::min(total, i + batch_size));
    attr.push_back(shapes_scene_attributes(batch).index_select(1, k_idx) > 0.5);
    view(batch, oc, pr);
    std::vector<torch::Tensor> on_o, off_o, on_p, off_p, on_t, off_t;
    for (int64_t k : ks) {
      for (bool on : {true, false}) {
        auto edited = intervene_shapes(batch, k, on);
        auto seen = shapes_scene_attributes(edited).select(1, k) > 0.5;
        view(edited, on ? on_o : off_o, on ? on_p : off_p);
        (on ? on_t : off_t).push_back(on ? seen : ~seen);
      }
    }
    oon.push_back(torch::stack(on_o, 1));
    ooff.push_back(torch::stack(off_o, 1));
    pon.push_back(torch::stack(on_p, 1));
    poff.push_back(torch::stack(off_p, 1));
    ton.push_back(torch::stack(on_t, 1));
    toff.push_back(torch::stack(off_t, 1));
    const int64_t done = std::min(total, i + batch_size);
    if (progress) progress(done, total, total - done);
  }
  InterventionSamples out;
  for (int64_t k : ks) out.names.push_back(names[static_cast<size_t>(k)]);
  out.attr = torch::cat(attr);
  out.outcome = torch::cat(oc);
  out.prob = torch::cat(pr);
  out.outcome_on = torch::cat(oon);
  out.outcome_off = torch::cat(ooff);
  out.prob_on = torch::cat(pon);
  out.prob_off = torch::cat(poff);
  out.took_on = torch::cat(ton);
  out.took_off = torch::cat(toff);
  return out;
}

}  // namespace cfx
