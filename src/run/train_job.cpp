#include "cfx/run/train_job.h"

#include <cmath>
#include <filesystem>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/models/checkpoint.h"
#include "cfx/run/job_json.h"
#include "trainers.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx {

namespace train_detail {

std::vector<TrainOption> data_options(const std::string& dataset) {
  return {{"data", dataset, "dataset: fashion-mnist, mnist, shapes, or a folder"},
          {"limit", -1, "use at most this many training items (-1: all)"},
          {"shapes_rule", "shape", "shapes: class rule"},
          {"shapes_size", 32, "shapes: image side"},
          {"data_seed", uint64_t{0}, "seed of generated datasets (shapes)"}};
}

std::vector<TrainOption> with_data(std::vector<TrainOption> own) {
  auto all = data_options();
  all.insert(all.end(), own.begin(), own.end());
  return all;
}

namespace {

// The data options' dataset settings (seed, shapes rule and size) for `split`, all items.
DatasetOptions dataset_options(const json& o, const std::string& split) {
  DatasetOptions d;
  d.seed = o.at("data_seed").get<uint64_t>();
  d.shapes_rule = o.at("shapes_rule").get<std::string>();
  d.shapes_size = o.at("shapes_size").get<int64_t>();
  d.split = split;
  return d;
}

}  // namespace

std::pair<Dataset, Dataset> load_train_data(const json& o) {
  DatasetOptions d = dataset_options(o, "train");
  d.limit = o.at("limit").get<int64_t>();
  const auto name = o.at("data").get<std::string>();
  Dataset train = load_dataset(name, d);
  CFX_CHECK(train.size() > 0, "dataset ", name, " has no training items");
  return {std::move(train), load_test_split(o, name)};
}

Dataset load_test_split(const json& o, const std::string& name) {
  return load_dataset(name, dataset_options(o, "test"));
}

json data_json(const json& o) {
  return {{"dataset", o.at("data")},
          {"dataset_options",
           {{"seed", o.at("data_seed").get<uint64_t>()},
            {"limit", o.at("limit")},
            {"shapes_rule", o.at("shapes_rule")},
            {"shapes_size", o.at("shapes_size")}}}};
}

std::string relative_to(const std::string& path, const std::string& out) {
  auto dir = fs::absolute(fs::path(out)).parent_path();
  return fs::proximate(fs::absolute(path), dir).string();
}

std::string wrote(const std::string& out) {
  return "wrote " + out + " and " + sidecar_path(out) + "\n";
}

}  // namespace train_detail

namespace {

const char* type_name(const json& v) {
  if (v.is_boolean()) return "true or false";
  if (v.is_number_unsigned()) return "a non-negative integer";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  return "a string";
}

bool same_type(const json& value, const json& default_value) {
  if (default_value.is_boolean()) return value.is_boolean();
  if (default_value.is_number_unsigned())
    return value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
  if (default_value.is_number_integer()) return value.is_number_integer();
  if (default_value.is_number()) return value.is_number();
  return value.is_string();
}

// Every option of `t`: `given` over the defaults, each checked against its default's type.
json complete_options(const Trainer& t, const json& given) {
  CFX_CHECK(given.is_object(), "train ", t.kind, " options = ", given.dump(),
            " (must be a JSON object)");
  json all = json::object();
  std::string names;
  for (const auto& o : t.options) {
    all[o.key] = o.default_value;
    names += (names.empty() ? "" : ", ") + o.key;
  }
  for (const auto& [key, value] : given.items()) {
    CFX_CHECK(all.contains(key), "unknown option '", key, "' for train ", t.kind,
              "; known: ", names);
    const auto& d = all[key];
    // A non-negative integer is also fine where a number or a signed integer is asked for.
    bool ok = same_type(value, d) || (d.is_number_float() && value.is_number()) ||
              (d.is_number_integer() && !d.is_number_unsigned() && value.is_number_integer());
    CFX_CHECK(ok, "train ", t.kind, " option ", key, " = ", value.dump(), " (must be ",
              type_name(d), ")");
    if (d.is_number_unsigned()) {
      all[key] = value.get<uint64_t>();
    } else if (d.is_number_float()) {
      CFX_CHECK(std::isfinite(value.get<double>()), "train ", t.kind, " option ", key, " = ",
                value.dump(), " (must be finite)");
      all[key] = value.get<double>();
    } else {
      all[key] = value;
    }
  }
  return all;
}

}  // namespace

const std::vector<Trainer>& trainers() {
  static const std::vector<Trainer> all = [] {
    std::vector<Trainer> v;
    for (auto family : {train_detail::image_trainers(), train_detail::latent_trainers(),
                        train_detail::text_trainers()})
      for (auto& t : family) v.push_back(std::move(t));
    return v;
  }();
  return all;
}

const Trainer& trainer(const std::string& kind) {
  std::string names;
  for (const auto& t : trainers()) {
    if (t.kind == kind) return t;
    names += (names.empty() ? "" : ", ") + t.kind;
  }
  fail("unknown model kind to train '", kind, "'; known: ", names);
}

void TrainJob::validate() const {
  const auto& t = trainer(kind);
  complete_options(t, options);
  CFX_CHECK(!out.empty(), "train ", kind, ": the weights file to write (out) is required");
}

json TrainJob::to_json() const {
  return {{"kind", kind}, {"options", options}, {"out", out}, {"command", command}};
}

TrainJob TrainJob::from_json(const json& j) {
  TrainJob o;
  JobReader read(j, o.to_json(), "train job");
  read("kind", o.kind);
  read("options", o.options);
  read("out", o.out);
  read("command", o.command);
  o.validate();
  return o;
}

TrainOutcome run_train(const TrainJob& job) {
  job.validate();
  const auto& t = trainer(job.kind);
  auto parent = fs::path(job.out).parent_path();
  // Before minutes of training: the folder must take the weights.
  ensure_writable_dir(parent.empty() ? "." : parent.string());
  auto out = t.train(complete_options(t, job.options), job.out, job.command);
  out.path = job.out;
  return out;
}

}  // namespace cfx
