// `cfx eval`: every method on the same items and targets, scored with the field's metrics.
#include <cstdio>
#include <memory>

#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/methods/options.h"
#include "cfx/run/eval_job.h"
#include "cfx/run/targets.h"
#include "commands.h"
#include "common.h"

namespace cfx::cli {

namespace {

struct EvalFlags {
  ModelFlags model;
  InputOptions input;
  std::string methods = "pixel";
  std::string target = "auto";
  std::string targets_file;  // per-item targets (CSV or JSON, run/targets.h); excludes target
  std::string out = "out/eval";
  uint64_t seed = 0;
  std::string device = "cpu";
  int64_t batch_size = 64;
  int64_t batch_workers = 0;
  std::vector<std::string> sets;
  std::string oracle;
  std::string autoencoders;
  std::string corrupt = "none";
  int64_t surrogate = 0;
  bool sanity = false;
  int64_t curve_steps = 28;
  int64_t cout_steps = 50;
  std::string attributes;  // MNAC oracle; "": <dataset>-attributes.pt beside the model; "none"
  std::string fid_net;     // "": <dataset>-oracle-resnet.pt beside the model if present; "none"
  int64_t fid_reference = 2000;
  bool resume = false;
};

int eval_main(const EvalFlags& f) {
  EvalJob job;
  job.methods = split_list(f.methods);
  job.options = parse_option_assignments(f.sets);
  job.seed = f.seed;
  job.batch_size = f.batch_size;
  job.batch_workers = f.batch_workers;
  job.device = f.device;
  job.corrupt = f.corrupt;
  job.oracle = f.oracle;
  job.autoencoders = f.autoencoders;
  job.attributes = f.attributes;
  job.fid_net = f.fid_net;
  job.fid_reference = f.fid_reference;
  job.surrogate = f.surrogate;
  job.sanity = f.sanity;
  job.curve_steps = f.curve_steps;
  job.cout_steps = f.cout_steps;
  job.batches_dir = f.out;  // method M keeps finished batches in <out>/<M>/batches
  job.resume = f.resume;
  // Fail on an unwritable --out or a bad job before any expensive work.
  ensure_writable_dir(f.out);
  job.validate();

  auto q = load_queries(f.model, f.input, f.seed, f.target, f.targets_file);
  job.targets = q.targets;
  EvalItems items;
  items.images = q.inputs.images;
  items.inputs = q.inputs.sources;
  items.masks = q.inputs.masks;
  items.data = f.input.data;
  items.split = f.input.split;
  items.offset = f.input.offset;
  items.data_seed = f.seed;

  nlohmann::json run_info = {{"command", "eval"}, {"invocation", invocation()}};
  if (!f.targets_file.empty()) run_info["targets_file"] = f.targets_file;
  std::unique_ptr<ProgressBar> bar;
  std::string running;
  auto outcome = run_eval(
      job, q.model, items, [&] { return f.model.load(&q.input); }, run_info,
      [&](const std::string& method, int64_t done, int64_t total) {
        if (method != running) {
          bar = std::make_unique<ProgressBar>(method, total, kProgressUnit);
          running = method;
        }
        bar->update(done);
        if (done == total) bar->finish();
      });
  write_eval(outcome, f.out);
  std::printf("%s", eval_table(outcome.document).c_str());
  std::printf("wrote %s/eval.json, eval.csv and one result folder per method\n", f.out.c_str());
  std::printf("wrote %s/report.html\n", f.out.c_str());
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* sub = app.add_subcommand("eval", "run methods on the same items and score them");
  auto f = std::make_shared<EvalFlags>();
  f->model.add(sub);
  add_input_flags(sub, f->input);
  sub->add_option("--methods", f->methods, "comma-separated method names (see `cfx methods`)");
  sub->add_option("--target,-t", f->target,
                  "target class: auto (runner-up class), pred, an index, or a class name");
  sub->add_option("--targets", f->targets_file,
                  "per-item targets: CSV lines input,target or JSON {input: target} "
                  "(input: the image's path or file name, or dataset:split:index)")
      ->excludes("--target");
  sub->add_option("--out,-o", f->out, "output folder");
  sub->add_option("--seed", f->seed, "random seed");
  sub->add_option("--device", f->device, "cpu, cuda or cuda:<i>");
  sub->add_option("--batch-size", f->batch_size, "items optimised together");
  add_batch_workers_flag(sub, f->batch_workers);
  sub->add_option(
      "--set", f->sets,
      "method option key=value for every method that has it, or method.key=value for one");
  sub->add_option("--oracle", f->oracle, "independent classifier for oracle validity");
  sub->add_option("--autoencoders", f->autoencoders,
                  "class-conditional autoencoders for IM1/IM2 (cfx train autoencoder)");
  sub->add_option("--corrupt", f->corrupt,
                  "corrupt the queries first: noise:σ, blur:σ, contrast:f or none");
  sub->add_option("--surrogate", f->surrogate,
                  "train surrogates on queries (+ counterfactuals) and test their agreement "
                  "with the model on this many held-out items (0: off)");
  sub->add_flag("--sanity", f->sanity,
                "saliency methods: also run on a weight-randomised copy of the model and report "
                "the rank correlation of the maps (sanity_rank_corr; low = the map depends on "
                "the weights)");
  sub->add_option("--curve-steps", f->curve_steps,
                  "saliency methods: steps of the deletion and insertion curves");
  sub->add_option("--cout-steps", f->cout_steps,
                  "counterfactual methods: steps of the COUT path from x to the counterfactual "
                  "(0: no COUT)");
  sub->add_option("--attributes", f->attributes,
                  "attribute oracle for MNAC (attributes that flip); default: "
                  "<dataset>-attributes.pt beside the model if present; none: off");
  sub->add_option("--fid-net", f->fid_net,
                  "feature network for FID (default: <dataset>-oracle-resnet.pt beside the "
                  "model if present; none: no FID)");
  sub->add_option("--fid-reference", f->fid_reference,
                  "FID: at most this many real images of --data's split (queries excluded)");
  sub->add_flag("--resume", f->resume,
                "keep finished batches from an earlier run of the same command into --out "
                "(killed or not) and run only the rest");
  on_selected(sub, [f] { return eval_main(*f); });
}

}  // namespace cfx::cli
