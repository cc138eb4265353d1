#include <cstdio>
#include <iostream>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/core/progress.h"
#include "cfx/eval/explain.h"
#include "cfx/methods/registry.h"
#include "cfx/report/html_report.h"
#include "cfx/report/result_json.h"
#include "commands.h"
#include "common.h"

namespace cfx::cli {

namespace {

struct ExplainFlags {
  ModelFlags model;
  InputOptions input;
  std::string target = "auto";
  std::string method = "pixel";
  std::string out = "out/explain";
  uint64_t seed = 0;
  std::string device = "cpu";
  int64_t batch_size = 64;
  int64_t steps = -1;
  double lr = -1;
  std::vector<std::string> sets;
};

int explain_main(const ExplainFlags& f) {
  // Fail on an unwritable --out or a bad method before any expensive work.
  ensure_writable_dir(f.out);
  nlohmann::json options = parse_sets(f.sets);
  if (f.steps >= 0) options["steps"] = f.steps;
  if (f.lr >= 0) options["lr"] = f.lr;
  auto method = make_method(f.method, options);
  auto device = parse_device(f.device);

  auto F = f.model.load();
  InputOptions in_opt = f.input;
  in_opt.seed = f.seed;
  Inputs in = load_inputs(in_opt, F->input_shape());
  CFX_CHECK(torch::isfinite(in.images).all().item<bool>(), "input images contain NaN values");
  auto targets = resolve_targets(f.target, *F, in.images);

  Request req;
  req.classifier = F;
  req.images = in.images;
  req.targets = targets;
  req.seed = f.seed;
  req.device = device;
  const int64_t n = in.images.size(0);
  ProgressBar bar(f.method, n);
  req.progress = [&](int64_t, int64_t, int64_t active) { bar.update(n - active); };
  Explanation e = explain(*method, req, f.batch_size);
  bar.finish();

  nlohmann::json run = {
      {"command", "explain"}, {"invocation", invocation()}, {"target", f.target}, {"inputs", n}};
  auto doc = write_explain_outputs(f.out, *F, in.images, targets, in.sources, e, run);
  write_html_report(f.out, doc);
  const auto& s = doc["summary"];
  std::printf("%lld item(s), validity %.3f, mean target prob %.3f, mean L1 %.4f, %.3f s/item\n",
              static_cast<long long>(n), s.value("validity", 0.0), s.value("mean_target_prob", 0.0),
              s.value("mean_l1", 0.0), s.value("seconds_per_item", 0.0));
  std::printf("wrote %s/result.json\n", f.out.c_str());
  std::printf("wrote %s/report.html\n", f.out.c_str());
  return 0;
}

}  // namespace

void add_explain_command(CLI::App& app) {
  auto* sub = app.add_subcommand("explain", "generate counterfactual explanations");
  auto f = std::make_shared<ExplainFlags>();
  f->model.add(sub);
  add_input_flags(sub, f->input);
  sub->add_option("--target,-t", f->target,
                  "target class: auto (runner-up class), an index, or a class name");
  sub->add_option("--method", f->method, "method name (see `cfx methods`)");
  sub->add_option("--out,-o", f->out, "output folder");
  sub->add_option("--seed", f->seed, "random seed");
  sub->add_option("--device", f->device, "cpu, cuda or cuda:<i>");
  sub->add_option("--batch-size", f->batch_size, "items optimised together");
  sub->add_option("--steps", f->steps, "most optimisation steps (-1: the method's default)");
  sub->add_option("--lr", f->lr, "learning rate (-1: the method's default)");
  sub->add_option("--set", f->sets, "method option key=value (repeatable; see cfx methods --json)");
  on_selected(sub, [f] { return explain_main(*f); });
}

}  // namespace cfx::cli
