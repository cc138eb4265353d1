#include "cfx/run/explain_job.h"

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/surface.h"
#include "cfx/core/threads.h"
#include "cfx/methods/registry.h"
#include "cfx/report/html_report.h"
#include "cfx/report/result_json.h"
#include "cfx/run/job_json.h"
#include "cfx/run/targets.h"

using nlohmann::json;

namespace cfx {

void ExplainJob::validate() const {
  const auto& info = method_info(method);  // names the known methods on a miss
  CFX_CHECK(kind.empty() || kind == "counterfactual" || kind == "saliency", "explain job kind = '",
            kind, "' (use counterfactual, saliency or leave it empty)");
  CFX_CHECK(kind.empty() || info.kind == kind, "method '", method, "' makes ", info.kind,
            kind == "saliency"
                ? " explanations; use " + for_surface("`cfx explain`", "cfx.explain()")
                : " maps; use " + for_surface("`cfx saliency`", "cfx.saliency()"),
            " (see ", for_surface("`cfx methods`", "cfx.methods()"), ")");
  CFX_CHECK(options.is_object(), "explain job options = ", options.dump(),
            " (must be a JSON object of method options)");
  CFX_CHECK(!targets.empty(), "explain job targets is empty (use \"auto\" or one per item)");
  CFX_CHECK(batch_size >= 1 && batch_size <= 100000, "explain job batch_size = ", batch_size,
            " (use 1 to 100000)");
  CFX_CHECK(batch_workers >= 0 && batch_workers <= 1024,
            "explain job batch_workers = ", batch_workers,
            " (use 0 for one per thread, or 1 to 1024)");
  CFX_CHECK(!resume || !batches_dir.empty(),
            "explain job resume = true needs batches_dir (where the earlier run kept them)");
  parse_device(device);  // throws for a malformed or unavailable device
}

json ExplainJob::to_json() const {
  return {{"method", method},           {"options", options},
          {"targets", targets},         {"seed", seed},
          {"batch_size", batch_size},   {"batch_workers", batch_workers},
          {"device", device},           {"kind", kind},
          {"batches_dir", batches_dir}, {"resume", resume}};
}

ExplainJob ExplainJob::from_json(const json& j) {
  ExplainJob o;
  JobReader read(j, o.to_json(), "explain job");
  read("method", o.method);
  read("options", o.options);
  read("targets", o.targets);
  read("seed", o.seed);
  read("batch_size", o.batch_size);
  read("batch_workers", o.batch_workers);
  read("device", o.device);
  read("kind", o.kind);
  read("batches_dir", o.batches_dir);
  read("resume", o.resume);
  o.validate();
  return o;
}

ExplainOutcome run_explain(const ExplainJob& job, std::shared_ptr<Classifier> F,
                           const torch::Tensor& images, std::vector<std::string> inputs,
                           json run_info, const ProgressFn& progress) {
  job.validate();
  CFX_CHECK(F != nullptr, "no classifier to explain");
  auto method = method_info(job.method).make(job.options);
  F->check_input(images);
  const int64_t n = images.size(0);
  CFX_CHECK(n > 0, "no images to explain");
  CFX_CHECK(images.is_floating_point(), "images must be floating point in [0, 1], got ",
            images.scalar_type());
  CFX_CHECK(torch::isfinite(images).all().item<bool>(), "input images contain NaN values");
  if (inputs.empty())
    for (int64_t i = 0; i < n; ++i) inputs.push_back("item " + std::to_string(i));
  CFX_CHECK(static_cast<int64_t>(inputs.size()) == n, "got ", inputs.size(), " input names for ", n,
            " images");

  ExplainOutcome out;
  out.classifier = F;
  out.images = images.detach().cpu().to(torch::kFloat);
  out.targets = resolve_targets(job.targets, *F, out.images);
  out.inputs = std::move(inputs);
  Request req;
  req.classifier = F;
  req.images = out.images;
  req.targets = out.targets;
  req.seed = job.seed;
  req.device = parse_device(job.device);
  req.progress = progress;
  out.explanation =
      explain(*method, req, job.batch_size, {job.batches_dir, job.resume}, job.batch_workers);

  const auto& kind = method_info(job.method).kind;
  if (!run_info.contains("command"))
    run_info["command"] = kind == "saliency" ? "saliency" : "explain";
  if (!run_info.contains("target"))
    run_info["target"] = job.targets.size() == 1 ? json(job.targets[0]) : json("per item");
  if (!run_info.contains("inputs")) run_info["inputs"] = n;
  if (!run_info.contains("threads")) run_info["threads"] = threads();
  run_info["batch_workers"] = out.explanation.workers;
  out.document =
      write_explain_outputs("", *F, out.images, out.targets, out.inputs, out.explanation, run_info);
  return out;
}

json explain_batch_settings(const ExplainJob& job, std::shared_ptr<Classifier> F,
                            const torch::Tensor& images) {
  job.validate();
  CFX_CHECK(F != nullptr, "no classifier to explain");
  auto method = method_info(job.method).make(job.options);
  F->check_input(images);
  Request req;
  req.classifier = F;
  req.images = images.detach().cpu().to(torch::kFloat);
  req.targets = resolve_targets(job.targets, *F, req.images);
  req.seed = job.seed;
  req.device = parse_device(job.device);
  return batch_settings(*method, req, job.batch_size);
}

void write_explain(const ExplainOutcome& o, const std::string& dir) {
  CFX_CHECK(o.classifier != nullptr, "an explain outcome without its classifier cannot be written");
  auto doc = write_explain_outputs(dir, *o.classifier, o.images, o.targets, o.inputs, o.explanation,
                                   o.document.at("run"));
  write_html_report(dir, doc);
}

}  // namespace cfx
