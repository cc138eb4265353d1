#include "cfx/run/global_job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <tuple>

#include "cfx/config.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/image_io.h"
#include "cfx/data/inputs.h"
#include "cfx/data/shapes_scenes.h"
#include "cfx/eval/code_causal.h"
#include "cfx/eval/oracle_causal.h"
#include "cfx/methods/latent/latent.h"
#include "cfx/report/bar_chart.h"
#include "cfx/report/html_report.h"
#include "cfx/run/job_json.h"
#include "cfx/run/targets.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx {

namespace {

SamplingOptions sampling_of(const GlobalJob& j) {
  SamplingOptions s;
  s.samples = j.samples;
  s.batch_size = j.batch_size;
  s.strength = j.strength;
  s.seed = j.seed;
  s.only = j.only;
  return s;
}

CausalOptions causal_of(const GlobalJob& j) {
  CausalOptions c;
  c.bootstrap = j.bootstrap;
  c.confidence = j.confidence;
  c.seed = j.seed;  // the bootstrap shares the samples' seed
  return c;
}

// The outcome's class indices; names or indices of F.
std::vector<int64_t> outcome_classes(const std::vector<std::string>& specs, const Classifier& F) {
  std::vector<int64_t> out;
  for (const auto& s : specs) {
    auto c = parse_class(s, F.class_names());
    CFX_CHECK(c.has_value(), "unknown outcome class '", s, "': not a class name or index of ",
              F.info().source);
    CFX_CHECK(*c >= 0 && *c < F.num_classes(), "outcome class ", *c, " is out of range (",
              F.num_classes(), " classes)");
    out.push_back(*c);
  }
  return out;
}

// Latents of real images: the generator's samples from its prior can lie off the data (a
// VAE's blurry blobs), where the classifier's decisions say little about the data it sees.
// `encode` maps the images [N, C, H, W] to their latents.
torch::Tensor data_latents(const GlobalJob& j, Classifier& F,
                           const std::function<torch::Tensor(const torch::Tensor&)>& encode,
                           std::string& described) {
  std::string name = j.data.empty() ? F.info().dataset : j.data;
  CFX_CHECK(!name.empty(),
            "latents from data need images: name a dataset (data), or draw latents from the "
            "prior (latents prior)");
  InputOptions in;
  in.data = name;
  in.split = j.split;
  in.n = j.samples;
  in.seed = j.seed;
  Inputs inputs = load_inputs(in, F.input_shape());
  described = name + ":" + j.split + " (" + std::to_string(inputs.images.size(0)) + " images)";
  return encode(inputs.images);
}

}  // namespace

void GlobalJob::validate() const {
  CFX_CHECK(!outcome.empty(), "the outcome is required: a class (index or name) or a list of them");
  CFX_CHECK(latents == "data" || latents == "prior", "invalid latents '", latents,
            "' (use data or prior)");
  CFX_CHECK(reference == "auto" || reference == "none", "invalid reference '", reference,
            "' (use auto or none)");
  CFX_CHECK(via == "shift" || via == "code", "invalid via '", via,
            "' (use shift: through the shift predictor, or code: a cvae's attribute code)");
  if (via == "code") {
    CFX_CHECK(generator != "oracle",
              "via code edits a cvae's attribute code; the oracle generator intervenes on the "
              "scene itself (remove via code, or name a cvae as the generator)");
    CFX_CHECK(shifter.empty(),
              "via code edits the cvae's attribute code and uses no shift predictor (remove "
              "shifter '",
              shifter, "')");
    CFX_CHECK(latents == "data", "via code encodes real images; latents must be data, got '",
              latents, "'");
  }
  CFX_CHECK(via == "code" || generator.find(',') == std::string::npos, "several generators ('",
            generator,
            "') are taken via code only (cvaes); through the shift predictor, pass several "
            "shifters of one generator instead");
  if (generator == "oracle") {
    CFX_CHECK(shifter.empty() && attributes.empty(),
              "the oracle generator intervenes on the scene itself: it takes no shifter or "
              "attribute classifier (remove them)");
  }
  sampling_of(*this).validate();
  causal_of(*this).validate();
  parse_device(device);
}

json GlobalJob::to_json() const {
  return {{"outcome", outcome},     {"via", via},
          {"generator", generator}, {"attributes", attributes},
          {"shifter", shifter},     {"latents", latents},
          {"data", data},           {"split", split},
          {"samples", samples},     {"batch_size", batch_size},
          {"strength", strength},   {"only", only},
          {"bootstrap", bootstrap}, {"confidence", confidence},
          {"seed", seed},           {"device", device},
          {"reference", reference}};
}

GlobalJob GlobalJob::from_json(const json& j) {
  GlobalJob o;
  JobReader read(j, o.to_json(), "global job");
  read("outcome", o.outcome);
  read("via", o.via);
  read("generator", o.generator);
  read("attributes", o.attributes);
  read("shifter", o.shifter);
  read("latents", o.latents);
  read("data", o.data);
  read("split", o.split);
  read("samples", o.samples);
  read("batch_size", o.batch_size);
  read("strength", o.strength);
  read("only", o.only);
  read("bootstrap", o.bootstrap);
  read("confidence", o.confidence);
  read("seed", o.seed);
  read("device", o.device);
  read("reference", o.reference);
  o.validate();
  return o;
}

namespace {

// The outcome's classes and the latent models, on the job's device.
struct Loaded {
  std::vector<int64_t> outcome;
  LatentModels m;                              // the learned generator's models (via shift)
  std::vector<AipModels> codes;                // via code: the cvaes, each with the one
                                               // attribute classifier they share
  std::vector<std::shared_ptr<Shifter>> more;  // further shift predictors of m's generator
  bool oracle = false;                         // the shapes renderer is the generator
  bool compare = false;  // a learned generator on shapes: also score through the oracle
};

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ea, eb;
  return fs::weakly_canonical(a, ea) == fs::weakly_canonical(b, eb);
}

// The paths of a comma-separated list; "" is one (default) path, an empty entry of a longer
// list is an error naming `what`.
std::vector<std::string> path_list(const std::string& list, const char* what) {
  std::vector<std::string> paths;
  for (size_t pos = 0; pos <= list.size();) {
    size_t end = std::min(list.find(',', pos), list.size());
    paths.push_back(list.substr(pos, end - pos));
    pos = end + 1;
  }
  CFX_CHECK(paths.size() == 1 || std::none_of(paths.begin(), paths.end(),
                                              [](const std::string& p) { return p.empty(); }),
            "empty ", what, " path in '", list, "'");
  return paths;
}

std::string data_name(const GlobalJob& j, const Classifier& F) {
  return j.data.empty() ? F.info().dataset : j.data;
}

// Whether F takes shapes images the renderer can draw.
bool draws_for(const GlobalJob& j, const Classifier& F) {
  const auto& shape = F.input_shape();
  return data_name(j, F) == "shapes" && shape.size() == 3 && shape[0] == 3 &&
         shape[1] == shape[2] && shape[1] >= 8 && shape[1] <= 1024;
}

Loaded load(const GlobalJob& job, Classifier& F) {
  job.validate();
  auto device = parse_device(job.device);
  Loaded l;
  l.outcome = outcome_classes(job.outcome, F);
  l.oracle = job.generator == "oracle";
  if (l.oracle) {
    const std::string name = data_name(job, F);
    CFX_CHECK(name == "shapes", "the oracle generator draws shapes images only; the classifier ",
              F.info().source,
              name.empty() ? std::string(" names no dataset (pass data shapes if it is one)")
                           : " is a classifier of " + name);
    CFX_CHECK(draws_for(job, F),
              "the oracle generator draws square RGB shapes images; the classifier ",
              F.info().source, " takes [", torch::IntArrayRef(F.input_shape()), "]");
  } else if (job.via == "code") {
    // Several cvaes (comma-separated), trained independently: the intervals include the
    // variation between them. They must read attributes with one classifier, or their
    // samples would not score the same attributes.
    for (const auto& path : path_list(job.generator, "cvae")) {
      auto c = load_aip_models(path, job.attributes, &F);
      if (!l.codes.empty()) {
        const auto& first = l.codes.front();
        CFX_CHECK(same_file(c.attributes_path, first.attributes_path), "the cvaes ",
                  first.cvae_path, " and ", c.cvae_path,
                  " read attributes with different classifiers (", first.attributes_path, " vs ",
                  c.attributes_path,
                  "); pass cvaes of one attribute classifier, or name it "
                  "(attributes)");
        c.attributes = first.attributes;  // the same file: one classifier serves them all
      }
      c.cvae->to(device);
      c.attributes->to(device);
      l.codes.push_back(std::move(c));
    }
    l.compare = job.reference == "auto" && draws_for(job, F);
  } else {
    // Several shift predictors (comma-separated) of one generator: the intervals include
    // the variation between them.
    auto paths = path_list(job.shifter, "shift predictor");
    l.m = load_latent_models(paths[0], job.generator, job.attributes, &F);
    for (size_t i = 1; i < paths.size(); ++i) {
      auto mi = load_latent_models(paths[i], job.generator, job.attributes, &F);
      CFX_CHECK(same_file(mi.generator_path, l.m.generator_path) &&
                    same_file(mi.attributes_path, l.m.attributes_path),
                "the shift predictors ", l.m.shifter_path, " and ", mi.shifter_path,
                " were trained for different models (generator ", l.m.generator_path, " vs ",
                mi.generator_path, ", attributes ", l.m.attributes_path, " vs ", mi.attributes_path,
                "); pass shift predictors of one generator");
      l.m.shifter_path += "," + mi.shifter_path;
      mi.shifter->to(device);
      l.more.push_back(mi.shifter);
    }
    l.m.generator->to(device);
    l.m.attributes->to(device);
    l.m.shifter->to(device);
    l.compare = job.reference == "auto" && draws_for(job, F);
  }
  F.to(device);
  return l;
}

// The shapes options of the oracle's scenes for `job`: the test (or train) images that
// latents "data" encode for a learned generator, in the same order (load_inputs' shapes
// options), or for latents "prior" `samples` scenes of the same stream.
ShapesOptions oracle_options(const GlobalJob& j, const Classifier& F, bool as_data) {
  ShapesOptions o;
  o.split = j.split;
  o.seed = j.seed;
  o.size = F.input_shape()[1];
  o.count = as_data ? std::min(j.samples, shapes_split_size(j.split)) : j.samples;
  return o;
}

ShapesScenes oracle_scenes(const GlobalJob& j, const Classifier& F, bool as_data,
                           std::string& described) {
  auto scenes = shapes_scenes(oracle_options(j, F, as_data));
  described = as_data ? "shapes:" + j.split + " (" + std::to_string(scenes.size()) + " scenes)"
                      : "the shapes renderer (" + std::to_string(scenes.size()) + " scenes)";
  return scenes;
}

// The oracle's latents are its scenes, with each scene's item (noise stream) as a last column.
torch::Tensor scene_latents(const ShapesScenes& s) {
  return torch::cat({s.scenes, s.items.to(torch::kDouble).unsqueeze(1)}, 1);
}

ShapesScenes scenes_of(const GlobalJob& j, const Classifier& F, const torch::Tensor& latents) {
  CFX_CHECK(
      latents.defined() && latents.dim() == 2 && latents.size(1) == 11 && latents.size(0) >= 1,
      "the oracle generator's latents are [S, 11] (scene and item), got ",
      latents.defined() ? latents.sizes() : torch::IntArrayRef{});
  ShapesScenes s;
  s.options = oracle_options(j, F, false);
  s.options.count = latents.size(0);
  auto rows = latents.to(torch::kCPU, torch::kDouble);
  s.scenes = rows.slice(1, 0, 10).contiguous();
  auto item = rows.select(1, 10);
  CFX_CHECK(item.eq(item.round()).all().item<bool>() && item.ge(0).all().item<bool>(),
            "the oracle generator's latents end with an item index (a whole number >= 0)");
  s.items = item.to(torch::kLong);
  return s;
}

GlobalLatents latents_of(const GlobalJob& job, Classifier& F, const Loaded& l) {
  GlobalLatents out;
  if (l.oracle) {
    out.latents = scene_latents(oracle_scenes(job, F, job.latents == "data", out.source));
  } else if (job.via == "code") {
    // One block of columns per cvae, side by side: a row still depends on its image alone.
    out.latents = data_latents(
        job, F,
        [&](const torch::Tensor& x) {
          std::vector<torch::Tensor> blocks;
          for (const auto& c : l.codes)
            blocks.push_back(code_latents(*c.cvae, *c.attributes, x, job.seed, job.batch_size));
          return torch::cat(blocks, 1);
        },
        out.source);
  } else if (job.latents == "data") {
    InvertOptions io;
    io.batch_size = job.batch_size;
    out.latents = data_latents(
        job, F,
        [&](const torch::Tensor& x) { return invert_generator(*l.m.generator, x, io).cpu(); },
        out.source);
  } else {
    // As sample_interventions() draws them when given none.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(job.seed);
    out.latents = torch::randn({job.samples, l.m.generator->latent_dim()}, gen);
    out.source = "N(0, I)";
  }
  return out;
}

InterventionSamples samples_of(const GlobalJob& job, Classifier& F, Loaded& l,
                               const torch::Tensor& latents, const ProgressFn& progress) {
  if (l.oracle)
    return sample_oracle_interventions(F, l.outcome, scenes_of(job, F, latents), job.batch_size,
                                       job.only, progress);
  // Group g of G (shift predictors or cvaes) reports its progress as part of all G.
  auto progress_of = [&](int64_t g, int64_t G) {
    ProgressFn step;
    if (progress) {
      step = [&progress, g, G](int64_t done, int64_t all, int64_t) {
        progress(g * all + done, G * all, G * all - (g * all + done));
      };
    }
    return step;
  };
  std::vector<InterventionSamples> parts;
  if (job.via == "code") {
    const int64_t G = static_cast<int64_t>(l.codes.size());
    const int64_t K = l.codes.front().attributes->size();
    int64_t width = 0;
    for (const auto& c : l.codes) width += c.cvae->latent_dim() + K + 1;
    CFX_CHECK(latents.defined() && latents.dim() == 2 && latents.size(1) == width,
              "the code latents of ", G, " cvae(s) are [S, ", width,
              "] (per cvae: z, the attribute code, a coin), got ",
              latents.defined() ? latents.sizes() : torch::IntArrayRef{});
    int64_t col = 0;
    for (int64_t g = 0; g < G; ++g) {
      const auto& c = l.codes[static_cast<size_t>(g)];
      const int64_t w = c.cvae->latent_dim() + K + 1;
      parts.push_back(sample_code_interventions(F, l.outcome, *c.cvae, *c.attributes,
                                                latents.slice(1, col, col + w), job.batch_size,
                                                job.only, progress_of(g, G)));
      col += w;
    }
  } else {
    SamplingOptions sampling = sampling_of(job);
    sampling.latents = latents;
    std::vector<std::shared_ptr<Shifter>> shifters = {l.m.shifter};
    shifters.insert(shifters.end(), l.more.begin(), l.more.end());
    const int64_t G = static_cast<int64_t>(shifters.size());
    for (int64_t g = 0; g < G; ++g)
      parts.push_back(sample_interventions(F, l.outcome, *l.m.generator, *l.m.attributes,
                                           *shifters[static_cast<size_t>(g)], sampling,
                                           progress_of(g, G)));
  }
  return interleave_groups(parts);  // one part comes back as it is
}

GlobalOutcome outcome_of(const GlobalJob& job, Classifier& F, const Loaded& l,
                         const InterventionSamples& samples, const std::string& source,
                         double sample_s, json run_info);

}  // namespace

GlobalLatents global_latents(const GlobalJob& job, std::shared_ptr<Classifier> F) {
  CFX_CHECK(F != nullptr, "no classifier to score");
  auto l = load(job, *F);
  return latents_of(job, *F, l);
}

InterventionSamples global_samples(const GlobalJob& job, std::shared_ptr<Classifier> F,
                                   const torch::Tensor& latents, const ProgressFn& progress) {
  CFX_CHECK(F != nullptr, "no classifier to score");
  auto l = load(job, *F);
  return samples_of(job, *F, l, latents, progress);
}

GlobalOutcome global_outcome(const GlobalJob& job, std::shared_ptr<Classifier> F,
                             const InterventionSamples& samples, const std::string& source,
                             double sample_seconds, json run_info) {
  CFX_CHECK(F != nullptr, "no classifier to score");
  samples.check();
  auto l = load(job, *F);
  return outcome_of(job, *F, l, samples, source, sample_seconds, std::move(run_info));
}

GlobalOutcome run_global(const GlobalJob& job, std::shared_ptr<Classifier> F, json run_info,
                         const ProgressFn& progress) {
  CFX_CHECK(F != nullptr, "no classifier to score");
  auto l = load(job, *F);
  auto latents = latents_of(job, *F, l);
  auto start = std::chrono::steady_clock::now();
  auto samples = samples_of(job, *F, l, latents.latents, progress);
  double sample_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return outcome_of(job, *F, l, samples, latents.source, sample_s, std::move(run_info));
}

namespace {

const char* const kScoreNames[] = {"necessity",
                                   "sufficiency",
                                   "necessity_and_sufficiency",
                                   "contrastive_attribution",
                                   "necessity_adjusted",
                                   "sufficiency_adjusted"};

// |learned - true| per score (null where either is undefined).
json abs_errors(const CausalScores& learned, const CausalScores& truth) {
  const Interval* a[] = {
      &learned.necessity,   &learned.sufficiency,        &learned.nesuf,
      &learned.contrastive, &learned.necessity_adjusted, &learned.sufficiency_adjusted};
  const Interval* b[] = {
      &truth.necessity,   &truth.sufficiency,        &truth.nesuf,
      &truth.contrastive, &truth.necessity_adjusted, &truth.sufficiency_adjusted};
  json out = json::object();
  for (int i = 0; i < 6; ++i) {
    const double d = std::abs(a[i]->estimate - b[i]->estimate);
    out[kScoreNames[i]] = std::isfinite(d) ? json(d) : json(nullptr);
  }
  return out;
}

GlobalOutcome outcome_of(const GlobalJob& job, Classifier& F, const Loaded& l,
                         const InterventionSamples& samples, const std::string& source,
                         double sample_s, json run_info) {
  auto device = parse_device(job.device);
  const auto& outcome = l.outcome;
  const auto& m = l.m;
  const bool code = !l.oracle && job.via == "code";
  std::string cvae_paths;  // via code: every cvae, comma-separated
  for (const auto& c : l.codes) cvae_paths += (cvae_paths.empty() ? "" : ",") + c.cvae_path;
  const int64_t n_samples = samples.outcome.size(0) / samples.groups();  // latents
  auto start = std::chrono::steady_clock::now();
  const CausalOptions causal = causal_of(job);
  GlobalOutcome out;
  out.scores = causal_scores(samples, causal);
  // The true scores of the same population through the oracle, beside the learned ones.
  std::vector<CausalScores> truth;
  std::string truth_source;
  double truth_s = 0, truth_rate = 0;
  if (l.compare) {
    auto t0 = std::chrono::steady_clock::now();
    auto scenes = oracle_scenes(job, F, true, truth_source);
    auto exact = sample_oracle_interventions(F, outcome, scenes, job.batch_size, job.only);
    truth = causal_scores(exact, causal);
    // F's outcome on the real scenes, beside its outcome on the generator's renderings of them
    // (summary.outcome_rate): a gap means F reads the generator's images otherwise.
    truth_rate = exact.outcome.to(torch::kDouble).mean().item<double>();
    truth_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  double total_s =
      sample_s + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::string outcome_names;
  for (int64_t c : outcome)
    outcome_names += (outcome_names.empty() ? "" : ",") + F.class_names()[c];
  BarSeries nec{"necessity", {}, {}, {}}, suf{"sufficiency", {}, {}, {}},
      ns{"necessity-and-sufficiency", {}, {}, {}}, con{"contrastive attribution", {}, {}, {}};
  std::vector<std::string> labels;
  json items = json::array(), table = json::array();
  items.push_back({{"index", 0}, {"input", "every attribute"}, {"chart", "global.png"}});
  for (size_t k = 0; k < out.scores.size(); ++k) {
    const auto& c = out.scores[k];
    labels.push_back(c.attribute);
    json item = {{"index", k + 1}, {"input", c.attribute}};
    for (auto [name, iv, series] :
         {std::tuple<const char*, const Interval*, BarSeries*>{"necessity", &c.necessity, &nec},
          {"necessity_adjusted", &c.necessity_adjusted, nullptr},
          {"sufficiency", &c.sufficiency, &suf},
          {"necessity_and_sufficiency", &c.nesuf, &ns},
          {"contrastive_attribution", &c.contrastive, &con}}) {
      json j = iv->to_json();
      for (const char* part : {"estimate", "lo", "hi", "n"})
        item[std::string(name) + (std::string(part) == "estimate" ? "" : "_" + std::string(part))] =
            j[part];
      if (!series) continue;
      series->value.push_back(iv->estimate);
      series->lo.push_back(iv->lo);
      series->hi.push_back(iv->hi);
    }
    item["intervention_on_rate"] = c.on_rate;
    item["intervention_off_rate"] = c.off_rate;
    if (std::isfinite(c.on_rate_pixels)) {
      item["intervention_on_rate_pixels"] = c.on_rate_pixels;
      item["intervention_off_rate_pixels"] = c.off_rate_pixels;
    }
    items.push_back(item);
    json row = c.to_json();
    if (!truth.empty()) {
      row["oracle"] = truth[k].to_json();
      row["oracle"].erase("attribute");
      row["abs_error"] = abs_errors(c, truth[k]);
    }
    table.push_back(row);
  }
  out.chart =
      bar_chart(labels, {nec, suf, ns, con}, -1.0, 1.0,
                "causal scores for outcome '" + outcome_names + "' (" + std::to_string(n_samples) +
                    " samples, " + std::to_string(static_cast<int>(causal.confidence * 100)) +
                    "% intervals)");
  if (!run_info.contains("command")) run_info["command"] = "global";
  const auto& info = F.info();
  out.document = {{"schema", "cfx.global"},
                  {"schema_version", 1},
                  {"cfx_version", CFX_VERSION},
                  {"command", "global"},
                  {"model",
                   {{"path", info.source},
                    {"arch", info.arch},
                    {"input_shape", info.input_shape},
                    {"classes", info.class_names}}},
                  {"config",
                   {{"method", "global"},
                    {"via", l.oracle ? "scene" : job.via},
                    {"generator", l.oracle ? "oracle"
                                  : code   ? cvae_paths
                                           : m.generator_path},
                    {"attributes", l.oracle ? "the scenes' true attributes"
                                   : code   ? l.codes.front().attributes_path
                                            : m.attributes_path},
                    {"shifter", l.oracle ? "none: exact interventions"
                                : code   ? "none: edits of the cvae's attribute code"
                                         : m.shifter_path},
                    {"reference", l.compare ? "oracle" : "none"},
                    {"shifters", l.oracle || code ? 0 : 1 + static_cast<int64_t>(l.more.size())},
                    {"generators", code ? static_cast<int64_t>(l.codes.size()) : 1},
                    {"outcome", outcome},
                    {"outcome_names", outcome_names},
                    {"samples", n_samples},
                    {"latents", job.latents},
                    {"latent_source", source},
                    {"batch_size", job.batch_size},
                    {"strength", job.strength},
                    {"seed", job.seed},
                    {"bootstrap", job.bootstrap},
                    {"confidence", job.confidence},
                    {"device", device.str()}}},
                  {"run", run_info},
                  {"scores", table},
                  {"items", items},
                  {"summary",
                   {{"samples", n_samples},
                    {"latent_source", source},
                    {"outcome", outcome_names},
                    {"outcome_rate", samples.outcome.to(torch::kDouble).mean().item<double>()},
                    {"seconds", total_s},
                    {"sampling_seconds", sample_s},
                    {"seconds_per_1000_samples", sample_s * 1000.0 / n_samples}}}};
  if (!truth.empty()) {
    json mean = json::object(), most = json::object();
    for (const char* name : kScoreNames) {
      double sum = 0, top = 0;
      int64_t n = 0;
      for (const auto& row : table) {
        const auto& e = row["abs_error"][name];
        if (e.is_null()) continue;
        sum += e.get<double>();
        top = std::max(top, e.get<double>());
        ++n;
      }
      mean[name] = n > 0 ? json(sum / double(n)) : json(nullptr);
      most[name] = n > 0 ? json(top) : json(nullptr);
    }
    out.document["summary"]["oracle_reference"] = {{"latent_source", truth_source},
                                                   {"outcome_rate", truth_rate},
                                                   {"mean_abs_error", mean},
                                                   {"max_abs_error", most},
                                                   {"seconds", truth_s}};
  }
  return out;
}

}  // namespace

void write_global(const GlobalOutcome& o, const std::string& dir) {
  ensure_writable_dir(dir);
  write_png((fs::path(dir) / "global.png").string(), o.chart);
  write_atomic((fs::path(dir) / "global.json").string(), o.document.dump(2) + "\n");
  write_html_report(dir, o.document);
}

std::string global_table(const GlobalOutcome& o) {
  const auto& s = o.document.at("summary");
  const int confidence =
      static_cast<int>(o.document.at("config").at("confidence").get<double>() * 100);
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "outcome '%s' in %.1f%% of %lld samples (latents of %s); %d%% bootstrap "
                "intervals\n",
                s.at("outcome").get<std::string>().c_str(),
                100 * s.at("outcome_rate").get<double>(),
                static_cast<long long>(s.at("samples").get<int64_t>()),
                s.at("latent_source").get<std::string>().c_str(), confidence);
  out += buf;
  std::snprintf(buf, sizeof buf, "%-18s %-22s %-22s %-22s %-22s %-22s %s\n", "attribute",
                "necessity", "nec. - placebo", "sufficiency", "nec.&suff.", "contrastive",
                "took on/off");
  out += buf;
  auto cell = [](const Interval& iv) {
    char b[48];
    if (!std::isfinite(iv.estimate))
      std::snprintf(b, sizeof b, "-- (n=0)");
    else
      std::snprintf(b, sizeof b, "%.2f [%.2f, %.2f]", iv.estimate, iv.lo, iv.hi);
    return std::string(b);
  };
  for (const auto& c : o.scores) {
    std::snprintf(buf, sizeof buf, "%-18s %-22s %-22s %-22s %-22s %-22s %.2f/%.2f",
                  c.attribute.c_str(), cell(c.necessity).c_str(),
                  cell(c.necessity_adjusted).c_str(), cell(c.sufficiency).c_str(),
                  cell(c.nesuf).c_str(), cell(c.contrastive).c_str(), c.on_rate, c.off_rate);
    out += buf;
    // Shapes images are also read from their pixels (A can be satisfied without drawing).
    if (std::isfinite(c.on_rate_pixels)) {
      std::snprintf(buf, sizeof buf, " (pixels %.2f/%.2f)", c.on_rate_pixels, c.off_rate_pixels);
      out += buf;
    }
    out += "\n";
  }
  std::snprintf(buf, sizeof buf, "%.2f s per 1000 samples\n",
                s.at("seconds_per_1000_samples").get<double>());
  out += buf;
  if (s.contains("oracle_reference")) {
    const auto& r = s.at("oracle_reference");
    std::snprintf(buf, sizeof buf,
                  "true scores (oracle generator, %s; outcome in %.1f%% of the real scenes) and "
                  "|learned - true|:\n%-18s %-16s %-16s %-16s %-16s\n",
                  r.at("latent_source").get<std::string>().c_str(),
                  100.0 * r.value("outcome_rate", 0.0), "attribute", "necessity", "nec. - placebo",
                  "sufficiency", "nec.&suff.");
    out += buf;
    auto pair = [](const json& row, const char* name) {
      const auto& t = row.at("oracle").at(name).at("estimate");
      const auto& e = row.at("abs_error").at(name);
      char b[48];
      if (t.is_null() || e.is_null())
        std::snprintf(b, sizeof b, "--");
      else
        std::snprintf(b, sizeof b, "%.2f (%.2f)", t.get<double>(), e.get<double>());
      return std::string(b);
    };
    for (const auto& row : o.document.at("scores")) {
      std::snprintf(buf, sizeof buf, "%-18s %-16s %-16s %-16s %-16s\n",
                    row.at("attribute").get<std::string>().c_str(), pair(row, "necessity").c_str(),
                    pair(row, "necessity_adjusted").c_str(), pair(row, "sufficiency").c_str(),
                    pair(row, "necessity_and_sufficiency").c_str());
      out += buf;
    }
  }
  return out;
}

}  // namespace cfx
