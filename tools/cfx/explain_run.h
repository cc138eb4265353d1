// What `cfx explain` and `cfx saliency` share: the same flags and one run-and-write path; they
// differ in the kind of method they accept and their default target.
#pragma once

#include <string>
#include <vector>

#include "cfx/data/inputs.h"
#include "common.h"

namespace cfx::cli {

struct ExplainFlags {
  ModelFlags model;
  InputOptions input;
  std::string target = "auto";
  std::string targets_file;  // per-item targets (CSV or JSON, run/targets.h); excludes target
  std::string method = "pixel";
  std::string out = "out/explain";
  uint64_t seed = 0;
  std::string device = "cpu";
  int64_t batch_size = 64;
  int64_t batch_workers = 0;
  int64_t steps = -1;
  double lr = -1;
  std::vector<std::string> sets;
  bool resume = false;  // reuse the finished batches of an earlier run into `out`
  nlohmann::json extra_options = nlohmann::json::object();  // set by subcommand flags
};

/// Adds the flags both subcommands have.
void add_explain_flags(CLI::App* sub, ExplainFlags& f);

/// Runs f.method (which must be of `kind`: "counterfactual" or "saliency") and writes
/// result.json and the images into f.out. `command` names the subcommand in result.json.
int run_explanation(const ExplainFlags& f, const std::string& command, const std::string& kind);

}  // namespace cfx::cli
