// Shared pieces of the cfx subcommands: option groups and their conversions.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cfx/data/dataset.h"
#include "cfx/data/inputs.h"
#include "cfx/models/classifier.h"

namespace cfx::cli {

/// A subcommand's body, run after parsing succeeded. Returns the exit code.
using Action = std::function<int()>;

/// Registers a subcommand's action to run when it was selected on the command line.
void on_selected(CLI::App* sub, Action action);

/// The command line as typed (recorded in checkpoints and result.json).
const std::string& invocation();
void set_invocation(int argc, char** argv);

/// Runs the action of the subcommand that was parsed (the deepest one).
int run_selected();

/// Forgets every registered action (before a command line is set up again).
void clear_actions();

/// Flags that override a model file's metadata.
struct ModelFlags {
  std::string path;
  std::string input_shape;  // "C,H,W"
  std::string classes;      // "a,b,c"
  std::string mean, std;    // "0.5" or "0.5,0.5,0.5"
  void add(CLI::App* app);
  /// With `inputs`, a model file that states no input shape takes theirs (with a note).
  std::shared_ptr<Classifier> load(const InputOptions* inputs = nullptr) const;
};

/// What explain, saliency and eval run on: the model, the query images and a target spec per
/// item (one for all, or --targets FILE's).
struct Queries {
  InputOptions input;  // as given, with the run's seed (generated datasets)
  std::shared_ptr<Classifier> model;
  Inputs inputs;
  std::vector<std::string> targets;
};

/// Loads the model (which takes the images' shape when it states none), the images and the
/// targets: `target` for every item, or the per-item targets of `targets_file` if set.
Queries load_queries(const ModelFlags& model, InputOptions input, uint64_t seed,
                     const std::string& target, const std::string& targets_file);

/// --image / --images / --data with --split, --n, --offset.
void add_input_flags(CLI::App* app, InputOptions& o);

/// `--batch-workers` (explain, saliency, eval): batches side by side on the CPU.
void add_batch_workers_flag(CLI::App* app, int64_t& workers);

/// "1,2,3" -> {1,2,3}; throws cfx::Error naming `flag` on a bad value.
std::vector<int64_t> parse_ints(const std::string& s, const std::string& flag);
std::vector<double> parse_doubles(const std::string& s, const std::string& flag);
std::vector<std::string> split_list(const std::string& s);

}  // namespace cfx::cli
