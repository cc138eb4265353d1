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
  // F's view of the rendered scenes.
  auto view = [&](const ShapesScenes& sc, torch::Tensor& in_outcome, torch::Tensor& prob) {
    reader.read(render_shapes(sc).to(F.device()), in_outcome, prob);
  };
  const int64_t total = scenes.size();
  InterventionCollector c;
  for (int64_t i = 0; i < total; i += batch_size) {
    auto batch = rows(scenes, i, std::min(total, i + batch_size));
    torch::Tensor ob, pb;
    view(batch, ob, pb);
    c.begin(shapes_scene_attributes(batch).index_select(1, k_idx) > 0.5, ob, pb);
    for (int64_t k : ks) {
      for (bool on : {true, false}) {
        auto edited = intervene_shapes(batch, k, on);
        auto seen = shapes_scene_attributes(edited).select(1, k) > 0.5;
        torch::Tensor okb, pkb;
        view(edited, okb, pkb);
        c.add(on, okb, pkb, on ? seen : ~seen);
      }
    }
    const int64_t done = std::min(total, i + batch_size);
    if (progress) progress(done, total, total - done);
  }
  std::vector<std::string> scored;
  for (int64_t k : ks) scored.push_back(names[static_cast<size_t>(k)]);
  return c.finish(std::move(scored));
}

}  // namespace cfx
