// What `cfx eval` does, as one library call: every method of a job on the same items and
// targets, scored with the field's metrics (eval/evaluate.h), in memory; and a writer for the
// CLI's files (eval.json, eval.csv, report.html and one result folder per method).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cfx/eval/evaluate.h"

namespace cfx {

/// One evaluation. Defaults are the CLI's. Companion models are paths; "" and "none" are
/// described per field.
struct EvalJob {
  std::vector<std::string> methods = {"pixel"};       // registered methods, run in this order
  nlohmann::json options = nlohmann::json::object();  // "key": v for every method,
                                                      // "method.key": v for one (`--set`)
  std::vector<std::string> targets = {"auto"};        // one spec for all items or one per item
  uint64_t seed = 0;             // methods' batches, corruption noise and surrogates
  int64_t batch_size = 64;       // items optimised together (1..100000)
  int64_t batch_workers = 0;     // batches side by side on the CPU, each on threads/that many
                                 // threads (0: one per thread; 1: one at a time; 0..1024)
  std::string device = "cpu";    // cpu, cuda or cuda:<i>
  std::string corrupt = "none";  // corrupt the queries first: noise:σ, blur:σ, contrast:f, none
  std::string oracle;            // independent classifier for oracle validity; "": none
  std::string autoencoders;      // class autoencoders for IM1/IM2; "": none
  std::string attributes;        // attribute oracle for MNAC; "": <dataset>-attributes.pt
                                 // beside the model if present; "none": off
  std::string fid_net;           // FID feature network; "": <data>-oracle-resnet.pt beside the
                                 // model if present and the items come from a dataset; "none"
  int64_t fid_reference = 2000;  // FID: at most this many real images (>= 2)
  int64_t surrogate = 0;         // held-out items for surrogate agreement (0: off)
  bool sanity = false;           // saliency: also explain a weight-randomised copy
  int64_t curve_steps = 28;      // saliency: deletion/insertion curve steps (1..10000)
  int64_t cout_steps = 50;       // counterfactuals: COUT path steps (0..10000; 0: off)
  std::string batches_dir;       // method M keeps finished batches in <batches_dir>/<M>/batches
  bool resume = false;           // reuse the batches an earlier run left there

  /// Throws cfx::Error naming the field and value that is wrong, or an unknown method or
  /// option (every method is built once here, so bad options fail before any work).
  void validate() const;
  nlohmann::json to_json() const;
  /// Unknown keys are an error; missing keys keep their defaults.
  static EvalJob from_json(const nlohmann::json& j);
};

/// The items an evaluation runs on.
struct EvalItems {
  torch::Tensor images;             // [N, C, H, W] float in [0, 1]
  std::vector<std::string> inputs;  // what each item is; empty: "item i"
  torch::Tensor masks;              // [N, 1, H, W] object masks (pointing game, IoU) or undefined
  // When the items are items offset.. of a dataset's split: FID's real reference images and
  // the surrogates' held-out items come from the same split (skipping the queries), and MNIST
  // items get morphometry. Empty for image files: FID and surrogates then need other data.
  std::string data;
  std::string split = "test";
  int64_t offset = 0;
  uint64_t data_seed = 0;  // generated datasets (shapes)
};

/// What an evaluation produced, in memory.
struct EvalOutcome {
  std::shared_ptr<Classifier> classifier;
  torch::Tensor images;            // [N, C, H, W] the (corrupted) queries, CPU
  torch::Tensor targets;           // [N] counterfactual targets
  torch::Tensor saliency_targets;  // [N] the class saliency maps explain
  std::vector<std::string> inputs;
  std::vector<MethodEvaluation> methods;  // in the job's order
  std::vector<nlohmann::json> documents;  // each method's result.json
  nlohmann::json document;                // eval.json
  nlohmann::json run;                     // what each result.json records as its "run"
};

/// Runs `job` on F and `items`. `fresh_copy` loads another copy of F (the sanity check
/// randomises its weights); it is needed only with job.sanity. `run_info` is recorded in
/// eval.json ("invocation") and in every method's result.json "run". Progress reports the
/// method running and its items' progress (done, total in ProgressBar units).
using EvalProgressFn = std::function<void(const std::string& method, int64_t done, int64_t total)>;
EvalOutcome run_eval(const EvalJob& job, std::shared_ptr<Classifier> F, const EvalItems& items,
                     const std::function<std::shared_ptr<Classifier>()>& fresh_copy = {},
                     nlohmann::json run_info = nlohmann::json::object(),
                     const EvalProgressFn& progress = {});

/// One method's share of an evaluation, as a distributed run computes it elsewhere: the
/// explain run that run_eval(job, F, items) makes for `method` (its options, the (corrupted)
/// images and the targets it explains) and the settings its batch files in `batches_dir`
/// must carry for run_eval with job.resume to load them instead of running them.
struct EvalBatchPlan {
  std::string method;
  nlohmann::json options;  // the method's options (job.options for it)
  torch::Tensor images;    // [N, C, H, W]
  torch::Tensor targets;   // [N] int64
  std::string batches_dir;
  nlohmann::json settings;
};

/// A plan per method of `job` (which needs batches_dir). The sanity check's runs on a
/// randomised model are not planned: run_eval makes those itself.
std::vector<EvalBatchPlan> eval_batch_plans(const EvalJob& job, std::shared_ptr<Classifier> F,
                                            const EvalItems& items);

/// Writes the CLI's files into `dir`: eval.json, eval.csv, report.html and <dir>/<method>/
/// (result.json, images/, maps/, report.html) for each method.
void write_eval(const EvalOutcome& outcome, const std::string& dir);

/// eval.csv: one `method,metric,mean,lo,hi,n` line per metric of every method.
std::string eval_csv(const nlohmann::json& eval_document);

/// The tables `cfx eval` prints: counterfactual metrics, then saliency metrics.
std::string eval_table(const nlohmann::json& eval_document);

}  // namespace cfx
