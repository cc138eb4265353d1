// `cfx global`: which attributes an outcome of the classifier causally depends on (METHODS.md
// §3). Samples the generator, intervenes on every attribute through the shift predictor, and
// reports necessity, sufficiency, necessity-and-sufficiency and contrastive attribution per
// attribute with bootstrap intervals: global.json, global.png (bar chart) and report.html.
#include <cstdio>
#include <memory>

#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/run/global_job.h"
#include "commands.h"
#include "common.h"

namespace cfx::cli {

namespace {

int global_main(const GlobalJob& job, const ModelFlags& model, const std::string& out) {
  ensure_writable_dir(out);
  job.validate();
  auto F = model.load();
  std::unique_ptr<ProgressBar> bar;  // over the samples there are (a dataset may have fewer)
  auto outcome = run_global(job, F, {{"command", "global"}, {"invocation", invocation()}},
                            [&](int64_t done, int64_t all, int64_t) {
                              if (!bar) bar = std::make_unique<ProgressBar>("global", all);
                              bar->update(done);
                            });
  if (bar) bar->finish();
  write_global(outcome, out);
  std::printf("%swrote %s/global.json, global.png and report.html\n", global_table(outcome).c_str(),
              out.c_str());
  return 0;
}

}  // namespace

void add_global_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "global", "global causal scores: necessity and sufficiency of attributes for an outcome");
  struct Flags {
    ModelFlags model;
    GlobalJob job;
    std::string outcome;
    std::string out = "out/global";
  };
  auto f = std::make_shared<Flags>();
  auto& j = f->job;
  f->model.add(sub);
  sub->add_option("--via", j.via,
                  "shift: intervene through the shift predictor (the paper); code: change the "
                  "attribute code of a cvae and keep its z (fewer side effects)");
  sub->add_option("--generator", j.generator,
                  "generator (default: the one the shifter was trained with; --via code: "
                  "<dataset>-cvae.pt beside the model; several, comma-separated: intervals "
                  "include their variation); oracle: on shapes, the renderer itself, exact "
                  "interventions (the true scores)");
  sub->add_option("--attributes", j.attributes,
                  "attribute classifier (default: the one the shifter or cvae was trained with)");
  sub->add_option("--shifter", j.shifter,
                  "shift predictor (default: <dataset>-shifter.pt beside the model); several, "
                  "comma-separated, of one generator: intervals include their variation");
  sub->add_option("--outcome", f->outcome, "class or classes (names or indices, comma-separated)")
      ->required();
  sub->add_option("--only", j.only, "attributes to score, comma-separated (default: all)");
  sub->add_option("--latents", j.latents,
                  "data: encode images of --data (the generator's view of real images); "
                  "prior: draw latents from N(0, I)");
  sub->add_option("--data", j.data, "images to encode (default: the classifier's dataset)");
  sub->add_option("--split", j.split, "split of --data");
  sub->add_option("--samples", j.samples, "samples (images encoded, or latents drawn)");
  sub->add_option("--batch-size", j.batch_size, "samples rendered together");
  sub->add_option("--strength", j.strength, "scale of the shift predictor's step");
  sub->add_option("--bootstrap", j.bootstrap, "bootstrap resamples");
  sub->add_option("--confidence", j.confidence, "interval coverage");
  sub->add_option("--seed", j.seed, "seed of the samples and the bootstrap");
  sub->add_option("--device", j.device, "cpu, cuda or cuda:<i>");
  sub->add_option("--reference", j.reference,
                  "auto: on shapes, also print the true scores (oracle generator) and each "
                  "learned score's distance to them; none: do not");
  sub->add_option("--out,-o", f->out, "output folder");
  on_selected(sub, [f] {
    GlobalJob job = f->job;
    job.outcome = split_list(f->outcome);
    return global_main(job, f->model, f->out);
  });
}

}  // namespace cfx::cli
