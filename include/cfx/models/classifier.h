// The classifier being explained. Methods see only this interface: images in [0, 1]
// go in (normalisation is the wrapper's job), differentiable logits come out, and
// intermediate features and batch-norm inputs can be captured in the same pass.
#pragma once

#include <torch/types.h>

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cfx {

/// A batch-norm layer of the classifier with its running statistics ([C] each).
struct BNLayer {
  std::string name;
  torch::Tensor running_mean;
  torch::Tensor running_var;
};

/// Everything one forward pass can report.
struct Capture {
  torch::Tensor logits;                            // [N, num_classes]
  std::map<std::string, torch::Tensor> features;   // requested layer name -> activation [N, ...]
  std::map<std::string, torch::Tensor> bn_inputs;  // BN layer name -> its input [N, C, ...]
  // Auxiliary heads (METHODS.md §1, manifold consistency), filled when the model has them:
  torch::Tensor duq;            // [N, num_classes] DUQ kernel values K_c(x) in (0, 1]
  torch::Tensor loss_estimate;  // [N] the loss-estimator head's predicted loss ŝ(x)
};

/// Static description of a classifier (from a checkpoint sidecar, cfx.json or flags).
struct ClassifierInfo {
  std::string arch;                      // "cnn", "resnet", "mlp", or "torchscript"
  std::string source;                    // file it was loaded from
  std::vector<int64_t> input_shape;      // {C, H, W}
  std::vector<std::string> class_names;  // one per output logit
  std::vector<double> mean;              // per channel, applied inside the wrapper
  std::vector<double> std;               // per channel
  std::string dataset;                   // training dataset, if known
};

class Classifier {
 public:
  virtual ~Classifier() = default;

  /// x: [N, C, H, W] float in [0, 1] on device(). Returns logits [N, num_classes],
  /// differentiable with respect to x. The model is always in eval mode.
  virtual torch::Tensor logits(const torch::Tensor& x) = 0;

  /// Like logits(), also returning the activations of `feature_layers` (names from
  /// feature_layers()) and, if `bn_inputs`, the input of every batch-norm layer.
  /// Throws cfx::Error for an unknown layer name.
  virtual Capture capture(const torch::Tensor& x, const std::vector<std::string>& feature_layers,
                          bool bn_inputs) = 0;

  /// Names accepted by capture(), in forward order.
  virtual std::vector<std::string> feature_layers() const = 0;

  /// Batch-norm layers in forward order (empty if none).
  virtual std::vector<BNLayer> bn_layers() const = 0;

  /// Whether capture() fills the auxiliary head `name`: "duq" (Capture::duq) or "loss"
  /// (Capture::loss_estimate). Models trained without such a head return false.
  virtual bool has_head(const std::string& name) const {
    (void)name;
    return false;
  }

  virtual int64_t num_parameters() const = 0;
  /// The weight tensors (aliases, so they can be changed in place, e.g. for the
  /// weight-randomisation sanity check). Empty if the implementation cannot expose them.
  virtual std::vector<torch::Tensor> weights() { return {}; }

  /// Moves weights to `device`; inputs must then live there too. A no-op when they are
  /// there already: moving rewrites the weights, which runs side by side on one classifier
  /// (Method::concurrent_runs) must not see, and each run calls to() first.
  virtual void to(torch::Device device) = 0;
  virtual torch::Device device() const = 0;

  const ClassifierInfo& info() const { return info_; }
  int64_t num_classes() const { return static_cast<int64_t>(info_.class_names.size()); }
  const std::vector<int64_t>& input_shape() const { return info_.input_shape; }
  const std::vector<std::string>& class_names() const { return info_.class_names; }

  /// Class probabilities [N, num_classes] without gradient, evaluated in chunks.
  torch::Tensor predict_proba(const torch::Tensor& x, int64_t batch_size = 256);

  /// Checks that x is [N, C, H, W] float matching input_shape(); throws cfx::Error otherwise.
  void check_input(const torch::Tensor& x) const;

 protected:
  /// (x - mean) / std per channel.
  torch::Tensor normalize(const torch::Tensor& x) const;
  ClassifierInfo info_;
};

/// Undoes as_two_rows() (core/batch_invariance.h) on every tensor of a capture made from
/// the doubled `x`.
Capture from_two_rows(Capture c, const torch::Tensor& x);

/// Runs F on `x` ([n, C, H, W], a few query images; moved to F's device) and checks what a
/// method relies on: F does not throw, its logits are floating point, [n, K] with K =
/// num_classes() >= 2, and finite; with `needs_gradient`, a gradient reaches x (a forward
/// that detaches its output leaves white-box methods nothing to follow). Throws cfx::Error
/// naming the model and what is wrong, and for gradients which methods still work.
void check_classifier_outputs(Classifier& F, const torch::Tensor& x, bool needs_gradient);

/// Flags that override a model file's own metadata (unset fields leave it alone).
struct ClassifierOverrides {
  std::vector<int64_t> input_shape;  // {C, H, W}
  std::vector<std::string> class_names;
  std::vector<double> mean;
  std::vector<double> std;
  std::string source;  // what outputs name as the model's file (a model handed over in memory)
  // Asked for {C, H, W} only when neither the file nor `input_shape` states one; the CLI and
  // Python answer with the query images' shape (and the loader says so in a note). Unset:
  // a file without a shape is an error.
  std::function<std::vector<int64_t>()> input_shape_fallback;
};

/// What `cfx info --json` prints and cfx.info() returns: path, arch, input_shape, classes,
/// mean, std, dataset, parameters, bn_layers [{name, channels}], feature_layers, heads.
nlohmann::json describe_classifier(const Classifier& F);

/// Loads a classifier file: a cfx checkpoint (weights + JSON sidecar) or a TorchScript
/// archive (scripted or traced, optional cfx.json extra file). Throws cfx::Error with the
/// path and the reason if the file is missing, not a model, or its metadata is inconsistent.
std::shared_ptr<Classifier> load_classifier(const std::string& path,
                                            const ClassifierOverrides& overrides = {});

}  // namespace cfx
