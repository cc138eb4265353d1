#include "cfx/run/session.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

namespace fs = std::filesystem;

namespace cfx {

namespace {

// What identifies a file's contents cheaply: its absolute path, size and modification time
// (a file rewritten in place within the clock's resolution at the same size is missed; cfx's
// writers replace files by renaming, which changes the time).
nlohmann::json file_stamp(const std::string& path) {
  std::error_code ec;
  auto abs = fs::absolute(path, ec);
  nlohmann::json j = {{"path", ec ? path : abs.string()}};
  auto time = fs::last_write_time(path, ec);
  if (!ec) j["mtime"] = static_cast<int64_t>(time.time_since_epoch().count());
  if (fs::is_regular_file(path, ec)) j["size"] = static_cast<int64_t>(fs::file_size(path, ec));
  return j;
}

}  // namespace

std::shared_ptr<Classifier> Session::classifier(const std::string& path,
                                                const ClassifierOverrides& overrides) {
  nlohmann::json key = {{"file", file_stamp(path)},
                        {"input_shape", overrides.input_shape},
                        {"classes", overrides.class_names},
                        {"mean", overrides.mean},
                        {"std", overrides.std},
                        {"source", overrides.source}};
  if (overrides.input_shape_fallback) key["fallback"] = overrides.input_shape_fallback();
  const std::string k = key.dump();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = classifiers_.find(k);
  if (it != classifiers_.end()) return it->second;
  auto F = load_classifier(path, overrides);  // throws: nothing is cached
  ++classifier_loads_;
  classifiers_[k] = F;
  return F;
}

std::shared_ptr<const Dataset> Session::dataset(const std::string& name, const DatasetOptions& o) {
  nlohmann::json key = {{"name", name},           {"split", o.split},      {"limit", o.limit},
                        {"seed", o.seed},         {"rule", o.shapes_rule}, {"size", o.shapes_size},
                        {"count", o.shapes_count}};
  std::error_code ec;
  if (fs::is_directory(name, ec)) key["folder"] = file_stamp(name);
  const std::string k = key.dump();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = datasets_.find(k);
  if (it != datasets_.end()) return it->second;
  auto d = std::make_shared<const Dataset>(load_dataset(name, o));
  ++dataset_loads_;
  datasets_[k] = d;
  return d;
}

int64_t Session::classifiers_loaded() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return classifier_loads_;
}

int64_t Session::datasets_loaded() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return dataset_loads_;
}

void Session::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  classifiers_.clear();
  datasets_.clear();
}

}  // namespace cfx
