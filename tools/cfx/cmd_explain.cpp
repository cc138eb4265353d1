#include <cstdio>
#include <iostream>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/core/progress.h"
#include "cfx/core/threads.h"
#include "cfx/eval/explain.h"
#include "cfx/methods/options.h"
#include "cfx/methods/registry.h"
#include "cfx/report/html_report.h"
#include "cfx/report/result_json.h"
#include "cfx/run/explain_job.h"
#include "cfx/run/targets.h"
#include "commands.h"
#include "explain_run.h"

namespace cfx::cli {

void add_explain_flags(CLI::App* sub, ExplainFlags& f) {
  f.model.add(sub);
  add_input_flags(sub, f.input);
  sub->add_option("--method", f.method, "method name (see `cfx methods`)");
  sub->add_option("--out,-o", f.out, "output folder");
  sub->add_option("--seed", f.seed, "random seed");
  sub->add_option("--device", f.device, "cpu, cuda or cuda:<i>");
  sub->add_option("--batch-size", f.batch_size, "items optimised together");
  add_batch_workers_flag(sub, f.batch_workers);
  sub->add_option("--steps", f.steps, "most optimisation steps (-1: the method's default)");
  sub->add_option("--lr", f.lr, "learning rate (-1: the method's default)");
  sub->add_option("--set", f.sets, "method option key=value (repeatable; see cfx methods --json)");
  sub->add_option("--targets", f.targets_file,
                  "per-item targets: CSV lines input,target or JSON {input: target} "
                  "(input: the image's path or file name, or dataset:split:index)");
  sub->add_flag("--resume", f.resume,
                "keep finished batches from an earlier run of the same command into --out "
                "(killed or not) and run only the rest");
}

int run_explanation(const ExplainFlags& f, const std::string& command, const std::string& kind) {
  ExplainJob job;
  job.method = f.method;
  job.kind = kind;
  job.options = f.extra_options;
  job.options.update(parse_option_assignments(f.sets));
  if (f.steps >= 0) job.options["steps"] = f.steps;
  if (f.lr >= 0) job.options["lr"] = f.lr;
  job.seed = f.seed;
  job.batch_size = f.batch_size;
  job.batch_workers = f.batch_workers;
  job.device = f.device;
  // Every finished batch is kept in <out>/batches, so a killed run can be resumed.
  job.batches_dir = f.out + "/batches";
  job.resume = f.resume;
  // Fail on an unwritable --out or a bad job before any expensive work.
  ensure_writable_dir(f.out);
  job.validate();
  method_info(job.method).make(job.options);

  auto q = load_queries(f.model, f.input, f.seed, f.target, f.targets_file);
  job.targets = q.targets;
  const int64_t n = q.inputs.images.size(0);
  nlohmann::json run_info = {{"command", command}, {"invocation", invocation()}};
  if (!f.targets_file.empty()) run_info["targets_file"] = f.targets_file;
  ProgressBar bar(f.method, n * kProgressUnit, kProgressUnit);
  auto outcome = run_explain(job, q.model, q.inputs.images, q.inputs.sources, run_info,
                             [&](int64_t done, int64_t, int64_t) { bar.update(done); });
  bar.finish();
  const auto& e = outcome.explanation;
  if (e.resumed_batches > 0)
    notice("resumed " + std::to_string(e.resumed_batches) + " finished batch(es) from " + f.out +
           "/batches");
  write_explain(outcome, f.out);
  const auto& s = outcome.document["summary"];
  if (kind == "saliency")
    std::printf("%lld item(s), mean p_c %.3f, mean saliency area %.3f, %.3f s/item\n",
                static_cast<long long>(n), s.value("mean_class_prob", 0.0),
                s.value("mean_saliency_area", 0.0), s.value("seconds_per_item", 0.0));
  else
    std::printf("%lld item(s), validity %.3f, mean target prob %.3f, mean L1 %.4f, %.3f s/item\n",
                static_cast<long long>(n), s.value("validity", 0.0),
                s.value("mean_target_prob", 0.0), s.value("mean_l1", 0.0),
                s.value("seconds_per_item", 0.0));
  std::printf("wrote %s/result.json\n", f.out.c_str());
  std::printf("wrote %s/report.html\n", f.out.c_str());
  return 0;
}

void add_explain_command(CLI::App& app) {
  auto* sub = app.add_subcommand("explain", "generate counterfactual explanations");
  auto f = std::make_shared<ExplainFlags>();
  add_explain_flags(sub, *f);
  sub->add_option("--target,-t", f->target,
                  "target class: auto (runner-up class), pred, an index, or a class name")
      ->excludes("--targets");
  on_selected(sub, [f] { return run_explanation(*f, "explain", "counterfactual"); });
}

}  // namespace cfx::cli
