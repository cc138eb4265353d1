#include "common.h"

#include <sstream>

#include "cfx/core/error.h"
#include "cfx/eval/metrics.h"
#include "cfx/run/targets.h"

namespace cfx::cli {

namespace {
std::vector<std::pair<CLI::App*, Action>>& actions() {
  static std::vector<std::pair<CLI::App*, Action>> a;
  return a;
}
}  // namespace

namespace {
std::string g_invocation;
}

const std::string& invocation() { return g_invocation; }

void set_invocation(int argc, char** argv) {
  g_invocation.clear();
  for (int i = 0; i < argc; ++i) {
    std::string a = i == 0 ? "cfx" : argv[i];
    bool plain = a.find_first_of(" \t'\"$") == std::string::npos && !a.empty();
    g_invocation += (i ? " " : "") + (plain ? a : "'" + a + "'");
  }
}

void on_selected(CLI::App* sub, Action action) { actions().emplace_back(sub, std::move(action)); }

void clear_actions() { actions().clear(); }

int run_selected() {
  for (auto& [sub, action] : actions())
    if (sub->parsed()) {
      // The deepest parsed subcommand wins: "train classifier" over "train".
      bool child = false;
      for (auto& [other, a] : actions())
        if (other != sub && other->parsed() && other->get_parent() == sub) child = true;
      if (!child) return action();
    }
  fail("no subcommand given; see cfx --help");
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

namespace {

// "1,2,3" -> {1, 2, 3} with `parse` (std::stoll or std::stod); `what` names the type in the
// error.
template <typename T, typename Parse>
std::vector<T> parse_list(const std::string& s, const std::string& flag, const char* what,
                          Parse parse) {
  std::vector<T> out;
  for (const auto& item : split_list(s)) {
    size_t pos = 0;
    try {
      out.push_back(parse(item, &pos));
    } catch (const std::exception&) {
      pos = std::string::npos;
    }
    CFX_CHECK(pos == item.size() && !item.empty(), flag, ": '", s,
              "' is not a comma-separated list of ", what);
  }
  return out;
}

}  // namespace

std::vector<int64_t> parse_ints(const std::string& s, const std::string& flag) {
  return parse_list<int64_t>(s, flag, "integers",
                             [](const std::string& x, size_t* pos) { return std::stoll(x, pos); });
}

std::vector<double> parse_doubles(const std::string& s, const std::string& flag) {
  return parse_list<double>(s, flag, "numbers",
                            [](const std::string& x, size_t* pos) { return std::stod(x, pos); });
}

void ModelFlags::add(CLI::App* app) {
  app->add_option("--model,-m", path,
                  "classifier: a cfx checkpoint (.pt + .json) or TorchScript file")
      ->required();
  app->add_option("--input-shape", input_shape, "override the model's input shape, C,H,W");
  app->add_option("--classes", classes, "override class names, comma-separated");
  app->add_option("--mean", mean, "override input normalisation mean (1 or C values)");
  app->add_option("--std", std, "override input normalisation std (1 or C values)");
}

std::shared_ptr<Classifier> ModelFlags::load(const InputOptions* inputs) const {
  ClassifierOverrides o;
  if (!input_shape.empty()) {
    o.input_shape = parse_ints(input_shape, "--input-shape");
    CFX_CHECK(o.input_shape.size() == 3 && o.input_shape[0] > 0 && o.input_shape[1] > 0 &&
                  o.input_shape[2] > 0,
              "--input-shape must be C,H,W with positive values, got '", input_shape, "'");
  }
  if (!classes.empty()) o.class_names = split_list(classes);
  if (!mean.empty()) o.mean = parse_doubles(mean, "--mean");
  if (!std.empty()) o.std = parse_doubles(std, "--std");
  if (inputs) o.input_shape_fallback = [inputs] { return native_input_shape(*inputs); };
  return load_classifier(path, o);
}

Queries load_queries(const ModelFlags& model, InputOptions input, uint64_t seed,
                     const std::string& target, const std::string& targets_file) {
  Queries q;
  q.input = std::move(input);
  q.input.seed = seed;
  q.model = model.load(&q.input);
  q.inputs = load_inputs(q.input, q.model->input_shape());
  q.targets = targets_file.empty() ? std::vector<std::string>{target}
                                   : read_target_file(targets_file, q.inputs.sources);
  return q;
}

void add_batch_workers_flag(CLI::App* app, int64_t& workers) {
  app->add_option("--batch-workers", workers,
                  "batches run side by side on the CPU, each on threads/that many threads "
                  "(0: one per thread; 1: one at a time)");
}

void add_input_flags(CLI::App* app, InputOptions& o) {
  app->add_option("--image", o.image, "one query image (png/jpg/bmp)");
  app->add_option("--images", o.images, "a folder of query images");
  app->add_option("--data", o.data,
                  "dataset: fashion-mnist, mnist, shapes, or root/<class>/ folder");
  app->add_option("--split", o.split, "dataset split (train or test)");
  app->add_option("--n", o.n, "number of dataset items");
  app->add_option("--offset", o.offset, "first dataset item");
}

}  // namespace cfx::cli
