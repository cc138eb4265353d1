// What a library user keeps between runs: the classifiers and datasets already loaded. A
// notebook that explains, evaluates and scores one model calls load_classifier once, not
// once per call (a ResNet-sized TorchScript file takes a second to load). Device, seed and
// batch size stay in each job (they are recorded with its results); the thread count and
// progress are the caller's per call (set_threads, ProgressFn). cfx.Session in Python wraps
// one and adds defaults for every call.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cfx/data/dataset.h"
#include "cfx/models/classifier.h"

namespace cfx {

class Session {
 public:
  /// The classifier `path` with `overrides` (load_classifier), loaded on the first call and
  /// again only when the file changed (size or modification time) or the overrides differ;
  /// overrides.input_shape_fallback is asked at every call, so keep it cheap. The object is
  /// shared by every caller: runs do not change it (weights frozen, no state kept), but do
  /// not run two jobs on it from two threads at once. Throws as load_classifier.
  std::shared_ptr<Classifier> classifier(const std::string& path,
                                         const ClassifierOverrides& overrides = {});

  /// The dataset `name` with `options` (load_dataset), loaded once per name and options
  /// (a folder: again when its modification time changes). Shared and read-only.
  std::shared_ptr<const Dataset> dataset(const std::string& name, const DatasetOptions& options);

  int64_t classifiers_loaded() const;  // files loaded so far (cache misses), for tests
  int64_t datasets_loaded() const;
  /// Forgets everything loaded (objects still held elsewhere live on).
  void clear();

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Classifier>> classifiers_;  // key: file and overrides
  std::map<std::string, std::shared_ptr<const Dataset>> datasets_;
  int64_t classifier_loads_ = 0, dataset_loads_ = 0;
};

}  // namespace cfx
