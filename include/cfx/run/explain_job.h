// What `cfx explain` and `cfx saliency` do, as one library call: a job (plain settings that
// round-trip through JSON) run on a classifier and images, an in-memory outcome, and a writer
// for the CLI's files. The CLI, the Python package and a cluster runner all call these.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cfx/eval/explain.h"

namespace cfx {

/// One explanation run. Defaults are the CLI's.
struct ExplainJob {
  std::string method = "pixel";                       // a registered method (`cfx methods`)
  nlohmann::json options = nlohmann::json::object();  // the method's options; it checks them
  std::vector<std::string> targets = {"auto"};        // one spec for all items or one per item
                                                      // (run/targets.h)
  uint64_t seed = 0;           // batch b is seeded with seed + the index of its first item
  int64_t batch_size = 64;     // items optimised together (1..100000)
  int64_t batch_workers = 0;   // batches run side by side on the CPU, each on threads/that
                               // many threads (0: one per thread; 1: one at a time; only
                               // methods that allow it, eval/explain.h)
  std::string device = "cpu";  // cpu, cuda or cuda:<i>
  std::string kind;            // "counterfactual" or "saliency" to insist on; "" for either
  std::string batches_dir;     // where finished batches are kept (resumable); "" keeps none
  bool resume = false;         // load the batches an earlier run left in batches_dir

  /// Throws cfx::Error naming the field and value that is wrong, or an unknown method.
  void validate() const;
  nlohmann::json to_json() const;
  /// Unknown keys are an error; missing keys keep their defaults.
  static ExplainJob from_json(const nlohmann::json& j);
};

/// What a job produced, in memory.
struct ExplainOutcome {
  std::shared_ptr<Classifier> classifier;
  torch::Tensor images;             // [N, C, H, W] in [0, 1], on the CPU
  torch::Tensor targets;            // [N] int64
  std::vector<std::string> inputs;  // what each item is (a file, "item i of ...")
  Explanation explanation;
  nlohmann::json document;  // result.json, exactly as write_explain() writes it
};

/// Runs `job` on F and `images` ([N, C, H, W] float in [0, 1]; `inputs` names each item, or is
/// empty for "item i"). `run_info` is recorded as result.json's "run" (command, target and
/// threads are added when missing). Progress as in explain().
ExplainOutcome run_explain(const ExplainJob& job, std::shared_ptr<Classifier> F,
                           const torch::Tensor& images, std::vector<std::string> inputs = {},
                           nlohmann::json run_info = nlohmann::json::object(),
                           const ProgressFn& progress = {});

/// The settings run_explain(job, F, images) keeps its batch files under (batch_settings() of
/// eval/explain.h): a distributed run writes them into job.batches_dir beside the batches its
/// workers computed, and then run_explain with job.resume joins them as one run.
nlohmann::json explain_batch_settings(const ExplainJob& job, std::shared_ptr<Classifier> F,
                                      const torch::Tensor& images);

/// Writes the CLI's files into `dir`: result.json, images/, maps/ (saliency) and report.html.
void write_explain(const ExplainOutcome& outcome, const std::string& dir);

}  // namespace cfx
