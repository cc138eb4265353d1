#include "cfx/methods/latent/latent.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/surface.h"
#include "cfx/methods/options.h"
#include "cfx/models/companions.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx {

namespace {

// The same checkpoint: one file, or byte-identical copies.
bool same_checkpoint(const std::string& a, const std::string& b) {
  std::error_code ea, eb;
  if (fs::weakly_canonical(a, ea) == fs::weakly_canonical(b, eb)) return true;
  if (!is_file(b) || fs::file_size(a, ea) != fs::file_size(b, eb)) return false;
  return read_file(a) == read_file(b);
}

}  // namespace

LatentModels load_latent_models(const std::string& shifter, const std::string& generator,
                                const std::string& attributes, const Classifier* F) {
  LatentModels m;
  m.shifter_path = shifter;
  if (m.shifter_path.empty()) {
    CFX_CHECK(F != nullptr && !F->info().dataset.empty() && !F->info().source.empty(),
              "no shift predictor given: name one with the shifter option (train one with ",
              train_call("shifter", {}), ")");
    m.shifter_path = companion_path(*F, "shifter");
    CFX_CHECK(is_file(m.shifter_path), "no shift predictor given and none beside the model (",
              m.shifter_path, "): name one with the shifter option (train one with ",
              train_call("shifter", {}), ")");
  }
  m.shifter = Shifter::load(m.shifter_path);
  auto recorded = [&](const std::string& key, const std::string& given) {
    if (!given.empty()) return given;
    std::string p = m.shifter->meta.value(key, "");
    CFX_CHECK(!p.empty(), "the shifter ", m.shifter_path, " does not record its ", key, "; pass --",
              key, " FILE");
    return recorded_path(p, m.shifter_path);
  };
  m.generator_path = recorded("generator", generator);
  m.attributes_path = recorded("attributes", attributes);
  // A shift predictor only means something in the latent space it was trained in: a generator
  // other than the recorded one (another file, not a copy of it) is refused even when its
  // latent size happens to match.
  const std::string trained_for = m.shifter->meta.value("generator", "");
  if (!generator.empty() && !trained_for.empty() && is_file(m.generator_path)) {
    const std::string own = recorded_path(trained_for, m.shifter_path);
    CFX_CHECK(!is_file(own) || same_checkpoint(own, m.generator_path), "the shift predictor ",
              m.shifter_path, " was trained for the generator ", own, ", not ", m.generator_path,
              "; leave the generator unset to use its own, or train a shift predictor for this one "
              "with ",
              train_call("shifter", {}));
  }
  m.generator = load_generator(m.generator_path);
  m.attributes = load_attribute_classifier(m.attributes_path);
  check_shifter_fits(*m.shifter, *m.generator, *m.attributes);
  if (m.shifter->meta.contains("attribute_names")) {
    const auto names = m.shifter->meta.at("attribute_names").get<std::vector<std::string>>();
    CFX_CHECK(names == m.attributes->names(), "the shift predictor ", m.shifter_path,
              " was trained for the attributes ", json(names).dump(),
              " but the attribute classifier ", m.attributes_path, " reads ",
              json(m.attributes->names()).dump());
  }
  if (F != nullptr) {
    auto gs = m.generator->output_shape();
    const auto& fs_ = F->input_shape();
    CFX_CHECK(gs == fs_, "the generator ", m.generator_path, " makes [", gs[0], ", ", gs[1], ", ",
              gs[2], "] images but the classifier ", F->info().source, " takes [", fs_[0], ", ",
              fs_[1], ", ", fs_[2], "]; use a generator trained on the classifier's domain");
  }
  return m;
}

std::vector<int64_t> attribute_indices(const AttributeClassifier& A, const std::string& list) {
  return attribute_indices(
      A.size(), [&](const std::string& name) { return A.index_of(name); }, list);
}

std::vector<int64_t> attribute_indices(int64_t count,
                                       const std::function<int64_t(const std::string&)>& index_of,
                                       const std::string& list) {
  std::vector<int64_t> out;
  if (list.empty()) {
    for (int64_t k = 0; k < count; ++k) out.push_back(k);
    return out;
  }
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(pos, end - pos);
    CFX_CHECK(!name.empty(), "empty attribute name in '", list, "'");
    int64_t k = index_of(name);
    CFX_CHECK(std::find(out.begin(), out.end(), k) == out.end(), "attribute '", name,
              "' is listed twice");
    out.push_back(k);
    pos = end + 1;
  }
  return out;
}

void LatentOptions::validate() const {
  CFX_CHECK(strength > 0 && std::isfinite(strength), "invalid strength: ", strength, " (use > 0)");
  CFX_CHECK(steps >= 0 && steps <= 100000, "invalid steps: ", steps, " (use 0 to 100000)");
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid lr: ", lr, " (use > 0)");
}

json LatentOptions::to_json() const {
  return {{"shifter", shifter},       {"generator", generator},
          {"attributes", attributes}, {"strength", strength},
          {"steps", steps},           {"lr", lr},
          {"refine", refine},         {"edit", edit}};
}

LatentOptions LatentOptions::from_json(const json& j) {
  LatentOptions o;
  check_option_keys("latent", j, o.to_json());
  read_option(j, "shifter", o.shifter);
  read_option(j, "generator", o.generator);
  read_option(j, "attributes", o.attributes);
  read_option(j, "strength", o.strength);
  read_option(j, "steps", o.steps);
  read_option(j, "lr", o.lr);
  read_option(j, "refine", o.refine);
  read_option(j, "edit", o.edit);
  o.validate();
  return o;
}

LatentCounterfactual::LatentCounterfactual(LatentOptions options) : options_(std::move(options)) {
  options_.validate();
}

const LatentModels& LatentCounterfactual::models(const Classifier& F) {
  std::lock_guard<std::mutex> lock(models_mutex_);
  if (!models_.shifter)
    models_ = load_latent_models(options_.shifter, options_.generator, options_.attributes, &F);
  return models_;
}

json LatentCounterfactual::config() const {
  json o = options_.to_json();
  std::lock_guard<std::mutex> lock(models_mutex_);
  // The files actually used, so a run can be repeated even when they were found by default.
  if (models_.shifter) {
    o["shifter"] = models_.shifter_path;
    o["generator"] = models_.generator_path;
    o["attributes"] = models_.attributes_path;
  }
  return {{"method", name()}, {"options", o}};
}

Result LatentCounterfactual::run(const Request& request) {
  request.validate();
  auto start = std::chrono::steady_clock::now();
  auto& F = *request.classifier;
  const auto& models = this->models(F);
  auto& G = *models.generator;
  auto& A = *models.attributes;
  auto& S = *models.shifter;
  G.to(request.device);
  A.to(request.device);
  S.to(request.device);
  F.to(request.device);

  const int64_t n = request.images.size(0);
  const auto ks = attribute_indices(A, options_.edit);
  const auto K = static_cast<int64_t>(ks.size());
  auto x = request.images.to(request.device);
  auto t = request.targets.to(torch::kLong).cpu();
  InvertOptions io;
  io.steps = options_.steps;
  io.lr = options_.lr;
  io.refine = options_.refine;
  auto w0 = invert_generator(G, x, io);
  if (request.progress) request.progress(1, 2, n);

  torch::NoGradGuard ng;
  Result r;
  auto rec = G.decode(w0);
  r.reconstruction = rec.cpu();
  r.reconstruction_error = (rec - x).pow(2).flatten(1).mean(1).cpu();
  auto& e = r.edits;
  auto idx = torch::tensor(ks, torch::kLong);
  for (int64_t k : ks) e.names.push_back(A.names()[k]);
  auto all_before = A.probs(rec).cpu();
  e.before = all_before.index_select(1, idx);
  e.direction = 1 - 2 * (e.before > 0.5).to(torch::kLong);
  auto target_prob_of = [&](const torch::Tensor& p) {
    return p.gather(1, t.unsqueeze(1)).squeeze(1);
  };
  auto base = F.predict_proba(rec).cpu();
  e.base_class = base.argmax(1);
  e.base_target_prob = target_prob_of(base);
  std::vector<torch::Tensor> imgs, after, classes, tprob;
  for (int64_t j = 0; j < K; ++j) {
    const int64_t k = ks[j];
    auto wk = intervene(S, w0, k, e.direction.select(1, j), options_.strength);
    auto img = G.decode(wk.to(G.device()));
    auto p = F.predict_proba(img).cpu();
    imgs.push_back(img.cpu());
    after.push_back(A.probs(img).select(1, k).cpu());
    classes.push_back(p.argmax(1));
    tprob.push_back(target_prob_of(p));
  }
  e.images = torch::stack(imgs, 1);
  e.after = torch::stack(after, 1);
  e.classes = torch::stack(classes, 1);
  e.target_prob = torch::stack(tprob, 1);
  // A valid edit beats any invalid one; among equals, the higher target probability.
  auto valid = (e.classes == t.unsqueeze(1)).to(torch::kFloat);
  e.chosen = (valid + e.target_prob).argmax(1);
  r.counterfactuals =
      e.images
          .gather(1, e.chosen.view({n, 1, 1, 1, 1})
                         .expand({n, 1, e.images.size(2), e.images.size(3), e.images.size(4)}))
          .squeeze(1);
  r.converged = valid.gather(1, e.chosen.unsqueeze(1)).squeeze(1) > 0;
  r.steps =
      torch::full({n}, G.has_encoder() && !options_.refine ? 0 : options_.steps, torch::kLong);
  if (request.progress) request.progress(2, 2, 0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace cfx
