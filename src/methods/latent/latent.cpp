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
  search.validate("latent option search_");
  CFX_CHECK(search.optimise_a && !search.optimise_z,
            "latent's search moves the request (and w only with search_latent)");
}

AipSearchOptions LatentOptions::default_search() {
  AipSearchOptions s;
  s.steps = 100;  // per phase; a request saturates its attributes within about 1/attribute_lr
  s.confidence = 0;
  s.optimise_z = false;  // the first phase moves the request alone
  return s;
}

const char* latent_route_name(int64_t route) {
  switch (static_cast<LatentRoute>(route)) {
    case LatentRoute::kEdit:
      return "edit";
    case LatentRoute::kRequest:
      return "request";
    case LatentRoute::kLatent:
      return "latent";
    case LatentRoute::kNone:
      return "none";
  }
  CFX_ASSERT(false && "unknown latent route");
  return "";
}

json LatentOptions::to_json() const {
  json j = search.to_json("search_");
  j.erase("search_optimise_z");  // the phases set them
  j.erase("search_optimise_a");
  j.update({{"shifter", shifter},
            {"generator", generator},
            {"attributes", attributes},
            {"strength", strength},
            {"steps", steps},
            {"lr", lr},
            {"refine", refine},
            {"edit", edit},
            {"search_latent", search_latent}});
  return j;
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
  o.search.read(j, false, "search_");
  read_option(j, "search_latent", o.search_latent);
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

void LatentCounterfactual::refine_misses(Classifier& F, Generator& G, Shifter& S,
                                         int64_t num_attributes, const std::vector<int64_t>& ks,
                                         const torch::Tensor& w0, const torch::Tensor& targets,
                                         Result& r, const ProgressFn& progress) const {
  auto& e = r.edits;
  constexpr auto kNone = static_cast<int64_t>(LatentRoute::kNone);
  auto miss = (e.route == kNone).nonzero().flatten();
  if (options_.search.steps == 0 || miss.numel() == 0) return;
  const auto device = w0.device();
  const auto K = static_cast<int64_t>(ks.size());
  auto columns = torch::tensor(ks, torch::kLong).to(device);
  // a ∈ [0, 1]^K over the edited attributes is the request t = 2a − 1 over all of A's.
  auto render = [&](const torch::Tensor& w, const torch::Tensor& a) {
    auto t =
        torch::zeros({a.size(0), num_attributes}, a.options()).index_copy(1, columns, 2 * a - 1);
    return G.decode(w + options_.strength * S.shift(w, t));
  };
  AipLogitsFn logits_of = [&](const torch::Tensor& w, const torch::Tensor& a,
                              const torch::Tensor&) { return F.logits(render(w, a)); };
  auto rows = miss.to(device);
  auto y = targets.index_select(0, miss).to(device);
  AipSearchOptions o = options_.search;
  o.optimise_z = false;
  auto found = aip_search(logits_of, w0.index_select(0, rows),
                          torch::full({miss.numel(), K}, 0.5, w0.options()), y, o, progress);
  auto route_of = [&](const torch::Tensor& converged, LatentRoute reached) {
    return torch::full({converged.size(0)}, kNone, converged.options().dtype(torch::kLong))
        .masked_fill_(converged, static_cast<int64_t>(reached));
  };
  auto route = route_of(found.converged, LatentRoute::kRequest);
  auto steps = found.steps.cpu();
  auto w = found.z, a = found.a;
  auto left = (~found.converged.cpu()).nonzero().flatten();
  if (options_.search_latent && left.numel() > 0) {
    o.optimise_z = true;  // anchored at w0 by alpha
    auto l = left.to(device);
    auto more = aip_search(logits_of, w.index_select(0, l), a.index_select(0, l),
                           y.index_select(0, l), o, progress);
    w = w.index_copy(0, l, more.z);
    a = a.index_copy(0, l, more.a);
    steps.index_add_(0, left, more.steps.cpu());
    route.index_copy_(0, l, route_of(more.converged, LatentRoute::kLatent));
  }
  route = route.cpu();
  // Items a route reached take its image and request; the rest keep the best single edit.
  auto ok = (route != kNone).nonzero().flatten();
  torch::NoGradGuard ng;
  auto images = render(w.index_select(0, ok.to(device)), a.index_select(0, ok.to(device))).cpu();
  auto items = miss.index_select(0, ok);
  r.counterfactuals.index_copy_(0, items, images);
  e.request.index_copy_(0, items, (2 * a - 1).cpu().index_select(0, ok));
  e.route.index_copy_(0, miss, route);
  r.steps.index_add_(0, miss, steps);
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
  auto reached = valid.gather(1, e.chosen.unsqueeze(1)).squeeze(1) > 0;
  e.route = torch::full({n}, static_cast<int64_t>(LatentRoute::kNone), torch::kLong)
                .masked_fill_(reached, static_cast<int64_t>(LatentRoute::kEdit));
  e.request = torch::zeros({n, K}).scatter_(
      1, e.chosen.unsqueeze(1), e.direction.gather(1, e.chosen.unsqueeze(1)).to(torch::kFloat));
  r.steps =
      torch::full({n}, G.has_encoder() && !options_.refine ? 0 : options_.steps, torch::kLong);
  refine_misses(F, G, S, A.size(), ks, w0, t, r, [&](int64_t, int64_t, int64_t active) {
    if (request.progress) request.progress(1, 2, active);
  });
  r.converged = e.route != static_cast<int64_t>(LatentRoute::kNone);
  if (request.progress) request.progress(2, 2, 0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace cfx
