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

void LatentOptions::validate() const {
  CFX_CHECK(strength > 0 && std::isfinite(strength), "invalid strength: ", strength, " (use > 0)");
  CFX_CHECK(steps >= 0 && steps <= 100000, "invalid steps: ", steps, " (use 0 to 100000)");
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid lr: ", lr, " (use > 0)");
  CFX_CHECK(via == "shift" || via == "code", "latent option via = '", via,
            "' (use shift: through the shift predictor, or code: the cvae's attribute code)");
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
            {"via", via},
            {"cvae", cvae},
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
  read_option(j, "via", o.via);
  read_option(j, "cvae", o.cvae);
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

const AipModels& LatentCounterfactual::code_models(const Classifier& F) {
  std::lock_guard<std::mutex> lock(models_mutex_);
  if (!code_models_.cvae) code_models_ = load_aip_models(options_.cvae, options_.attributes, &F);
  return code_models_;
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
  if (code_models_.cvae) {
    o["cvae"] = code_models_.cvae_path;
    o["attributes"] = code_models_.attributes_path;
  }
  return {{"method", name()}, {"options", o}};
}

namespace {

// The space the edits are made in (option `via`): where an item starts (w0), what the attribute
// classifier saw before any edit, and the image of a request t ∈ [−1, 1]^K (all of the
// classifier's attributes) from a latent w of the items `rows` of the batch.
struct EditSpace {
  torch::Tensor w0;      // [N, L] on the device
  torch::Tensor before;  // [N, K] attribute probabilities before any edit, on the CPU
  torch::Tensor rec;     // [N, C, H, W] the reconstruction, on the device
  LatentRenderFn render;
  AttributeClassifier* reader = nullptr;  // reads the attributes of an image
};

// via=shift (the paper): w0 inverts x into G, and t goes through the shift predictor.
EditSpace shift_space(const LatentModels& m, const LatentOptions& o, const torch::Tensor& x) {
  auto& G = *m.generator;
  auto& S = *m.shifter;
  InvertOptions io;
  io.steps = o.steps;
  io.lr = o.lr;
  io.refine = o.refine;
  EditSpace e;
  e.w0 = invert_generator(G, x, io);
  torch::NoGradGuard ng;
  e.rec = G.decode(e.w0);
  e.before = m.attributes->probs(e.rec).cpu();
  const double strength = o.strength;
  e.render = [&G, &S, strength](const torch::Tensor& w, const torch::Tensor& t,
                                const torch::Tensor&) {
    return G.decode(w + strength * S.shift(w, t));
  };
  e.reader = m.attributes.get();
  return e;
}

// via=code: the cvae's own code. w0 = E(x, a0) with a0 = D(x); t moves the code a0 directly
// (a = a0 + t, clamped to [0, 1]), and turning an attribute on turns its exclusive group's
// others off by as much, so one edit keeps one shape and one colour.
EditSpace code_space(const AipModels& m, const torch::Tensor& x) {
  auto& G = *m.cvae;
  auto& D = *m.attributes;
  EditSpace e;
  torch::NoGradGuard ng;
  auto a0 = D.probs(x);
  e.w0 = G.encode(x, a0);
  e.rec = G.decode(e.w0, a0);
  e.before = a0.cpu();
  auto excl = D.exclusive().to(x.device(), torch::kFloat);
  e.render = [&G, a0, excl](const torch::Tensor& w, const torch::Tensor& t,
                            const torch::Tensor& rows) {
    auto a = a0.index_select(0, rows) + t - torch::matmul(torch::relu(t), excl);
    return G.decode(w, a.clamp(0, 1));
  };
  e.reader = m.attributes.get();
  return e;
}

}  // namespace

void LatentCounterfactual::refine_misses(Classifier& F, const LatentRenderFn& render,
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
  // a ∈ [0, 1]^K over the edited attributes is the request t = 2a − 1 over all of A's;
  // `rows` are the items' rows in the batch.
  auto image = [&](const torch::Tensor& w, const torch::Tensor& a, const torch::Tensor& rows) {
    auto t =
        torch::zeros({a.size(0), num_attributes}, a.options()).index_copy(1, columns, 2 * a - 1);
    return render(w, t, rows);
  };
  auto rows = miss.to(device);
  torch::Tensor searched = rows;  // the batch rows of the items aip_search is given
  AipLogitsFn logits_of = [&](const torch::Tensor& w, const torch::Tensor& a,
                              const torch::Tensor& idx) {
    return F.logits(image(w, a, searched.index_select(0, idx)));
  };
  auto y = targets.index_select(0, miss).to(device);
  AipSearchOptions o = options_.search;
  o.optimise_z = false;
  auto found = aip_search(logits_of, w0.index_select(0, rows),
                          torch::full({miss.numel(), K}, 0.5, w0.options()), y, o, progress);
  auto route_of = [&](const torch::Tensor& converged, LatentRoute reached) {
    return torch::full({converged.size(0)}, kNone, converged.options().dtype(torch::kLong))
        .masked_fill_(converged, static_cast<int64_t>(reached));
  };
  auto route = route_of(found.converged.cpu(), LatentRoute::kRequest);  // on the CPU
  auto steps = found.steps.cpu();
  auto w = found.z, a = found.a;
  auto left = (~found.converged.cpu()).nonzero().flatten();
  if (options_.search_latent && left.numel() > 0) {
    o.optimise_z = true;  // anchored at w0 by alpha
    auto l = left.to(device);
    searched = rows.index_select(0, l);
    auto more = aip_search(logits_of, w.index_select(0, l), a.index_select(0, l),
                           y.index_select(0, l), o, progress);
    w = w.index_copy(0, l, more.z);
    a = a.index_copy(0, l, more.a);
    steps.index_add_(0, left, more.steps.cpu());
    route.index_copy_(0, left, route_of(more.converged.cpu(), LatentRoute::kLatent));
  }
  // Items a route reached take its image and request; the rest keep the best single edit.
  auto ok = (route != kNone).nonzero().flatten();
  torch::NoGradGuard ng;
  auto ok_dev = ok.to(device);
  auto images =
      image(w.index_select(0, ok_dev), a.index_select(0, ok_dev), rows.index_select(0, ok_dev))
          .cpu();
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
  F.to(request.device);
  auto x = request.images.to(request.device);
  EditSpace space;
  bool optimised_w0 = false;  // w0 came from an optimisation of `steps` steps
  if (options_.via == "code") {
    const auto& m = code_models(F);
    m.cvae->to(request.device);
    m.attributes->to(request.device);
    space = code_space(m, x);
  } else {
    const auto& m = models(F);
    m.generator->to(request.device);
    m.attributes->to(request.device);
    m.shifter->to(request.device);
    space = shift_space(m, options_, x);
    optimised_w0 = !m.generator->has_encoder() || options_.refine;
  }
  AttributeClassifier* A = space.reader;
  const int64_t n = request.images.size(0);
  const int64_t num_attributes = A->size();
  const auto ks = attribute_indices(*A, options_.edit, "latent option edit");
  const auto K = static_cast<int64_t>(ks.size());
  auto t = request.targets.to(torch::kLong).cpu();
  if (request.progress) request.progress(1, 2, n);

  torch::NoGradGuard ng;
  Result r;
  r.reconstruction = space.rec.cpu();
  r.reconstruction_error = (space.rec - x).pow(2).flatten(1).mean(1).cpu();
  auto& e = r.edits;
  auto idx = torch::tensor(ks, torch::kLong);
  for (int64_t k : ks) e.names.push_back(A->names()[k]);
  e.before = space.before.index_select(1, idx);
  e.direction = 1 - 2 * (e.before > 0.5).to(torch::kLong);
  auto target_prob_of = [&](const torch::Tensor& p) {
    return p.gather(1, t.unsqueeze(1)).squeeze(1);
  };
  auto base = F.predict_proba(space.rec).cpu();
  e.base_class = base.argmax(1);
  e.base_target_prob = target_prob_of(base);
  auto all_rows = torch::arange(n, torch::kLong).to(request.device);
  std::vector<torch::Tensor> imgs, after, classes, tprob;
  for (int64_t j = 0; j < K; ++j) {
    const int64_t k = ks[j];
    auto req = torch::zeros({n, num_attributes}, space.w0.options());
    req.select(1, k).copy_(e.direction.select(1, j).to(req.options()));
    auto img = space.render(space.w0, req, all_rows);
    auto p = F.predict_proba(img).cpu();
    imgs.push_back(img.cpu());
    after.push_back(A->probs(img).select(1, k).cpu());
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
  r.steps = torch::full({n}, optimised_w0 ? options_.steps : 0, torch::kLong);
  refine_misses(F, space.render, num_attributes, ks, space.w0, t, r,
                [&](int64_t, int64_t, int64_t active) {
                  if (request.progress) request.progress(1, 2, active);
                });
  r.converged = e.route != static_cast<int64_t>(LatentRoute::kNone);
  if (request.progress) request.progress(2, 2, 0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace cfx
