// `cfx global`: which attributes an outcome of the classifier causally depends on (METHODS.md
// §3). Samples the generator, intervenes on every attribute through the shift predictor, and
// reports necessity, sufficiency, necessity-and-sufficiency and contrastive attribution per
// attribute with bootstrap intervals: global.json, global.png (bar chart) and report.html.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cfx/config.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/data/image_io.h"
#include "cfx/data/inputs.h"
#include "cfx/eval/causal.h"
#include "cfx/methods/latent/latent.h"
#include "cfx/report/bar_chart.h"
#include "cfx/report/html_report.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx::cli {

namespace {

struct GlobalFlags {
  ModelFlags model;
  std::string generator, attributes, shifter;
  std::string outcome;
  SamplingOptions sampling;
  CausalOptions causal;
  std::string latents = "data";  // "data": encode real images; "prior": draw from N(0, I)
  std::string data;              // images to encode ("": the classifier's dataset)
  std::string split = "test";
  std::string device = "cpu";
  std::string out = "out/global";
};

// Latents of real images: the generator's samples from its prior can lie off the data (a
// VAE's blurry blobs), where the classifier's decisions say little about the data it sees.
torch::Tensor data_latents(const GlobalFlags& f, Classifier& F, Generator& G,
                           std::string& described) {
  std::string name = f.data.empty() ? F.info().dataset : f.data;
  CFX_CHECK(!name.empty(), "--latents data needs images: pass --data D (or --latents prior)");
  InputOptions in;
  in.data = name;
  in.split = f.split;
  in.n = f.sampling.samples;
  in.seed = f.sampling.seed;
  Inputs inputs = load_inputs(in, F.input_shape());
  described = name + ":" + f.split + " (" + std::to_string(inputs.images.size(0)) + " images)";
  InvertOptions io;
  io.batch_size = f.sampling.batch_size;
  return invert_generator(G, inputs.images, io).cpu();
}

// "3", "Sneaker" or "Sneaker,Sandal" -> class indices.
std::vector<int64_t> parse_outcome(const std::string& s, const Classifier& F) {
  CFX_CHECK(!s.empty(), "--outcome is required: a class (index or name) or a list of them");
  std::vector<int64_t> out;
  for (const auto& part : split_list(s)) {
    const auto& names = F.class_names();
    auto it = std::find(names.begin(), names.end(), part);
    if (it != names.end()) {
      out.push_back(it - names.begin());
      continue;
    }
    char* end = nullptr;
    long long v = std::strtoll(part.c_str(), &end, 10);
    CFX_CHECK(!part.empty() && end && *end == '\0', "unknown outcome class '", part,
              "': not a class name or index of ", F.info().source);
    CFX_CHECK(v >= 0 && v < F.num_classes(), "outcome class ", v, " is out of range (",
              F.num_classes(), " classes)");
    out.push_back(v);
  }
  return out;
}

int global_main(const GlobalFlags& f) {
  ensure_writable_dir(f.out);
  f.sampling.validate();
  f.causal.validate();
  auto device = parse_device(f.device);
  auto F = f.model.load();
  auto outcome = parse_outcome(f.outcome, *F);
  auto m = load_latent_models(f.shifter, f.generator, f.attributes, F.get());
  F->to(device);
  m.generator->to(device);
  m.attributes->to(device);
  m.shifter->to(device);

  CFX_CHECK(f.latents == "data" || f.latents == "prior", "invalid --latents '", f.latents,
            "' (use data or prior)");
  SamplingOptions sampling = f.sampling;
  std::string source = "N(0, I)";
  if (f.latents == "data") sampling.latents = data_latents(f, *F, *m.generator, source);
  const int64_t n_samples =
      sampling.latents.defined() ? sampling.latents.size(0) : sampling.samples;
  auto start = std::chrono::steady_clock::now();
  ProgressBar bar("global", n_samples);
  auto samples =
      sample_interventions(*F, outcome, *m.generator, *m.attributes, *m.shifter, sampling,
                           [&](int64_t done, int64_t, int64_t) { bar.update(done); });
  bar.finish();
  double sample_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto scores = causal_scores(samples, f.causal);
  double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::string outcome_names;
  for (int64_t c : outcome)
    outcome_names += (outcome_names.empty() ? "" : ",") + F->class_names()[c];
  BarSeries nec{"necessity", {}, {}, {}}, suf{"sufficiency", {}, {}, {}},
      ns{"necessity-and-sufficiency", {}, {}, {}}, con{"contrastive attribution", {}, {}, {}};
  std::vector<std::string> labels;
  json items = json::array(), table = json::array();
  items.push_back({{"index", 0}, {"input", "every attribute"}, {"chart", "global.png"}});
  for (size_t k = 0; k < scores.size(); ++k) {
    const auto& c = scores[k];
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
  write_png(
      (fs::path(f.out) / "global.png").string(),
      bar_chart(labels, {nec, suf, ns, con}, -1.0, 1.0,
                "causal scores for outcome '" + outcome_names + "' (" + std::to_string(n_samples) +
                    " samples, " + std::to_string(static_cast<int>(f.causal.confidence * 100)) +
                    "% intervals)"));
  const auto& info = F->info();
  json doc = {{"schema", "cfx.global"},
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
                {"latents", f.latents},
                {"latent_source", source},
                {"batch_size", f.sampling.batch_size},
                {"strength", f.sampling.strength},
                {"seed", f.sampling.seed},
                {"bootstrap", f.causal.bootstrap},
                {"confidence", f.causal.confidence},
                {"device", device.str()}}},
              {"run", {{"command", "global"}, {"invocation", invocation()}}},
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
  write_atomic((fs::path(f.out) / "global.json").string(), doc.dump(2) + "\n");
  write_html_report(f.out, doc);

  std::printf(
      "outcome '%s' in %.1f%% of %lld samples (latents of %s); %d%% bootstrap "
      "intervals\n",
      outcome_names.c_str(), 100 * doc["summary"]["outcome_rate"].get<double>(),
      static_cast<long long>(n_samples), source.c_str(),
      static_cast<int>(f.causal.confidence * 100));
  std::printf("%-18s %-22s %-22s %-22s %-22s %s\n", "attribute", "necessity", "sufficiency",
              "nec.&suff.", "contrastive", "took on/off");
  auto cell = [](const Interval& iv) {
    char buf[48];
    if (!std::isfinite(iv.estimate))
      std::snprintf(buf, sizeof buf, "-- (n=0)");
    else
      std::snprintf(buf, sizeof buf, "%.2f [%.2f, %.2f]", iv.estimate, iv.lo, iv.hi);
    return std::string(buf);
  };
  for (const auto& c : scores)
    std::printf("%-18s %-22s %-22s %-22s %-22s %.2f/%.2f\n", c.attribute.c_str(),
                cell(c.necessity).c_str(), cell(c.sufficiency).c_str(), cell(c.nesuf).c_str(),
                cell(c.contrastive).c_str(), c.on_rate, c.off_rate);
  std::printf("%.2f s per 1000 samples\nwrote %s/global.json, global.png and report.html\n",
              sample_s * 1000.0 / n_samples, f.out.c_str());
  return 0;
}

}  // namespace

void add_global_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "global", "global causal scores: necessity and sufficiency of attributes for an outcome");
  auto f = std::make_shared<GlobalFlags>();
  f->model.add(sub);
  sub->add_option("--generator", f->generator,
                  "generator (default: the one the shifter was trained with)");
  sub->add_option("--attributes", f->attributes,
                  "attribute classifier (default: the one the shifter was trained with)");
  sub->add_option("--shifter", f->shifter,
                  "shift predictor (default: <dataset>-shifter.pt beside the model)");
  sub->add_option("--outcome", f->outcome, "class or classes (names or indices, comma-separated)")
      ->required();
  sub->add_option("--only", f->sampling.only,
                  "attributes to score, comma-separated (default: all)");
  sub->add_option("--latents", f->latents,
                  "data: encode images of --data (the generator's view of real images); "
                  "prior: draw latents from N(0, I)");
  sub->add_option("--data", f->data, "images to encode (default: the classifier's dataset)");
  sub->add_option("--split", f->split, "split of --data");
  sub->add_option("--samples", f->sampling.samples, "samples (images encoded, or latents drawn)");
  sub->add_option("--batch-size", f->sampling.batch_size, "samples rendered together");
  sub->add_option("--strength", f->sampling.strength, "scale of the shift predictor's step");
  sub->add_option("--bootstrap", f->causal.bootstrap, "bootstrap resamples");
  sub->add_option("--confidence", f->causal.confidence, "interval coverage");
  sub->add_option("--seed", f->sampling.seed, "seed of the samples and the bootstrap");
  sub->add_option("--device", f->device, "cpu, cuda or cuda:<i>");
  sub->add_option("--out,-o", f->out, "output folder");
  on_selected(sub, [f] {
    GlobalFlags g = *f;
    g.causal.seed = g.sampling.seed;
    return global_main(g);
  });
}

}  // namespace cfx::cli
