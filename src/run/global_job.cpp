#include "cfx/run/global_job.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <tuple>

#include "cfx/config.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/image_io.h"
#include "cfx/data/inputs.h"
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
torch::Tensor data_latents(const GlobalJob& j, Classifier& F, Generator& G,
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
  InvertOptions io;
  io.batch_size = j.batch_size;
  return invert_generator(G, inputs.images, io).cpu();
}

}  // namespace

void GlobalJob::validate() const {
  CFX_CHECK(!outcome.empty(), "the outcome is required: a class (index or name) or a list of them");
  CFX_CHECK(latents == "data" || latents == "prior", "invalid latents '", latents,
            "' (use data or prior)");
  sampling_of(*this).validate();
  causal_of(*this).validate();
  parse_device(device);
}

json GlobalJob::to_json() const {
  return {{"outcome", outcome},       {"generator", generator}, {"attributes", attributes},
          {"shifter", shifter},       {"latents", latents},     {"data", data},
          {"split", split},           {"samples", samples},     {"batch_size", batch_size},
          {"strength", strength},     {"only", only},           {"bootstrap", bootstrap},
          {"confidence", confidence}, {"seed", seed},           {"device", device}};
}

GlobalJob GlobalJob::from_json(const json& j) {
  GlobalJob o;
  JobReader read(j, o.to_json(), "global job");
  read("outcome", o.outcome);
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
  o.validate();
  return o;
}

namespace {

// The outcome's classes and the latent models, on the job's device.
struct Loaded {
  std::vector<int64_t> outcome;
  LatentModels m;
};

Loaded load(const GlobalJob& job, Classifier& F) {
  job.validate();
  auto device = parse_device(job.device);
  Loaded l;
  l.outcome = outcome_classes(job.outcome, F);
  l.m = load_latent_models(job.shifter, job.generator, job.attributes, &F);
  F.to(device);
  l.m.generator->to(device);
  l.m.attributes->to(device);
  l.m.shifter->to(device);
  return l;
}

GlobalLatents latents_of(const GlobalJob& job, Classifier& F, Generator& G) {
  GlobalLatents out;
  if (job.latents == "data") {
    out.latents = data_latents(job, F, G, out.source);
  } else {
    // As sample_interventions() draws them when given none.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(job.seed);
    out.latents = torch::randn({job.samples, G.latent_dim()}, gen);
    out.source = "N(0, I)";
  }
  return out;
}

InterventionSamples samples_of(const GlobalJob& job, Classifier& F, Loaded& l,
                               const torch::Tensor& latents, const ProgressFn& progress) {
  SamplingOptions sampling = sampling_of(job);
  sampling.latents = latents;
  return sample_interventions(F, l.outcome, *l.m.generator, *l.m.attributes, *l.m.shifter, sampling,
                              progress);
}

GlobalOutcome outcome_of(const GlobalJob& job, Classifier& F, const Loaded& l,
                         const InterventionSamples& samples, const std::string& source,
                         double sample_s, json run_info);

}  // namespace

GlobalLatents global_latents(const GlobalJob& job, std::shared_ptr<Classifier> F) {
  CFX_CHECK(F != nullptr, "no classifier to score");
  auto l = load(job, *F);
  return latents_of(job, *F, *l.m.generator);
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
  auto latents = latents_of(job, *F, *l.m.generator);
  auto start = std::chrono::steady_clock::now();
  auto samples = samples_of(job, *F, l, latents.latents, progress);
  double sample_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return outcome_of(job, *F, l, samples, latents.source, sample_s, std::move(run_info));
}

namespace {

GlobalOutcome outcome_of(const GlobalJob& job, Classifier& F, const Loaded& l,
                         const InterventionSamples& samples, const std::string& source,
                         double sample_s, json run_info) {
  auto device = parse_device(job.device);
  const auto& outcome = l.outcome;
  const auto& m = l.m;
  const int64_t n_samples = samples.outcome.size(0);
  auto start = std::chrono::steady_clock::now();
  const CausalOptions causal = causal_of(job);
  GlobalOutcome out;
  out.scores = causal_scores(samples, causal);
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
          {"sufficiency", &c.sufficiency, &suf},
          {"necessity_and_sufficiency", &c.nesuf, &ns},
          {"contrastive_attribution", &c.contrastive, &con}}) {
      json j = iv->to_json();
      for (const char* part : {"estimate", "lo", "hi", "n"})
        item[std::string(name) + (std::string(part) == "estimate" ? "" : "_" + std::string(part))] =
            j[part];
      series->value.push_back(iv->estimate);
      series->lo.push_back(iv->lo);
      series->hi.push_back(iv->hi);
    }
    item["intervention_on_rate"] = c.on_rate;
    item["intervention_off_rate"] = c.off_rate;
    items.push_back(item);
    table.push_back(c.to_json());
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
                    {"generator", m.generator_path},
                    {"attributes", m.attributes_path},
                    {"shifter", m.shifter_path},
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
  std::snprintf(buf, sizeof buf, "%-18s %-22s %-22s %-22s %-22s %s\n", "attribute", "necessity",
                "sufficiency", "nec.&suff.", "contrastive", "took on/off");
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
    std::snprintf(buf, sizeof buf, "%-18s %-22s %-22s %-22s %-22s %.2f/%.2f\n", c.attribute.c_str(),
                  cell(c.necessity).c_str(), cell(c.sufficiency).c_str(), cell(c.nesuf).c_str(),
                  cell(c.contrastive).c_str(), c.on_rate, c.off_rate);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "%.2f s per 1000 samples\n",
                s.at("seconds_per_1000_samples").get<double>());
  out += buf;
  return out;
}

}  // namespace cfx
