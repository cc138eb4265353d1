// The attribute classifier A of METHODS.md §3 (also the attribute oracle behind MNAC, §5): one
// logit per binary attribute. `cfx train attributes` trains a zoo network with a sigmoid
// cross-entropy per attribute (checkpoint kind "attributes"); users may bring a TorchScript
// model instead, whose cfx.json "classes" name its attributes.
#pragma once

#include <torch/types.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/data/dataset.h"
#include "cfx/models/classifier.h"
#include "cfx/models/zoo.h"

namespace cfx {

/// What the binary attributes of a dataset are.
struct AttributeTargets {
  std::vector<std::string> names;                // K attribute names
  std::vector<double> thresholds;                // attribute is on when value > threshold
  std::vector<std::vector<std::string>> groups;  // mutually exclusive attributes (at most one on)
  nlohmann::json to_json() const;
};

/// The binary attributes of `train`: 0/1 columns (shapes) keep threshold 0.5; continuous ones
/// (mnist's morphometry) are split at their median on `train`. Shapes' shape and colour
/// attributes form exclusive groups. Throws cfx::Error if the dataset has no attributes.
AttributeTargets attribute_targets(const Dataset& train);

/// values: [N, K] raw attributes. Returns [N, K] float32 in {0, 1}.
torch::Tensor binarize_attributes(const torch::Tensor& values, const AttributeTargets& targets);

struct AttributeTrainOptions {
  int64_t epochs = 15;         // passes over the training set (shapes' shape attributes need
                               // about 10; colour and position are learnt in one)
  int64_t batch_size = 128;    // items per step
  double lr = 2e-3;            // peak AdamW learning rate (warm-up, then cosine decay)
  uint64_t seed = 0;           // initialisation and shuffling
  std::string device = "cpu";  // where to train
  void validate() const;
  nlohmann::json to_json() const;
};

/// Trains `net` (num_classes = K) on `train`'s binarised attributes; returns
/// {"test_accuracy": {name: accuracy on test}, "mean_test_accuracy", "seconds"}.
nlohmann::json train_attribute_classifier(ZooNetImpl& net, const Dataset& train,
                                          const Dataset& test, const AttributeTargets& targets,
                                          const std::vector<double>& mean,
                                          const std::vector<double>& std,
                                          const AttributeTrainOptions& options);

class AttributeClassifier {
 public:
  /// `net`'s classes are the attribute names; `groups` lists mutually exclusive attributes.
  AttributeClassifier(std::shared_ptr<Classifier> net,
                      std::vector<std::vector<std::string>> groups = {});
  int64_t size() const { return net_->num_classes(); }
  const std::vector<std::string>& names() const { return net_->class_names(); }
  /// Index of attribute `name`; throws cfx::Error listing the known names.
  int64_t index_of(const std::string& name) const;
  /// x: [N, C, H, W] in [0, 1]. Returns logits [N, K], differentiable in x.
  torch::Tensor logits(const torch::Tensor& x);
  /// Probabilities [N, K] without gradient, in chunks of `batch_size`.
  torch::Tensor probs(const torch::Tensor& x, int64_t batch_size = 256);
  /// [K, K] bool: true where attributes i != j belong to one exclusive group.
  torch::Tensor exclusive() const;
  /// The units of change (a factor): each exclusive group, then each attribute in no group, as
  /// index lists. A change of shape flips two attributes but is one unit (MNAC by factor, the
  /// cvae's one-factor requests).
  std::vector<std::vector<int64_t>> units() const;
  const std::vector<std::vector<std::string>>& groups() const { return groups_; }
  Classifier& net() { return *net_; }
  const Classifier& net() const { return *net_; }
  void to(torch::Device device) {
    if (device != net_->device()) net_->to(device);  // moving rewrites the weights
  }
  torch::Device device() const { return net_->device(); }

 private:
  std::shared_ptr<Classifier> net_;
  std::vector<std::vector<std::string>> groups_;
};

/// Loads a cfx attribute checkpoint or a TorchScript attribute model. Throws cfx::Error naming
/// the path and the problem.
std::shared_ptr<AttributeClassifier> load_attribute_classifier(const std::string& path);

/// Indices of the comma-separated attribute names in `list` ("" = all, in A's order). Throws
/// cfx::Error for an unknown or repeated name, listing A's attributes, after `option` ("aip
/// option edit") when it is given.
std::vector<int64_t> attribute_indices(const AttributeClassifier& A, const std::string& list,
                                       const std::string& option = "");
/// The same over any `count` attributes, `index_of` naming one (and throwing for a miss).
std::vector<int64_t> attribute_indices(int64_t count,
                                       const std::function<int64_t(const std::string&)>& index_of,
                                       const std::string& list);

}  // namespace cfx
