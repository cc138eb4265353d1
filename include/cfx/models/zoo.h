// Native zoo networks: small classifiers cfx can train itself (`cfx train classifier`).
//
// Each network's forward takes an optional Tap that records named intermediate values,
// which is how native classifiers expose features and batch-norm inputs without hooks.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cfx/models/heads.h"

namespace cfx {

/// Collects named values during one forward pass. Only requested names are kept.
struct Tap {
  std::set<std::string> want_features;  // feature names to keep
  bool want_bn_inputs = false;          // keep every BN layer's input
  std::map<std::string, torch::Tensor> features;
  std::map<std::string, torch::Tensor> bn_inputs;

  void feature(const std::string& name, const torch::Tensor& t) {
    if (want_features.count(name)) features[name] = t;
  }
  void bn_input(const std::string& name, const torch::Tensor& t) {
    if (want_bn_inputs) bn_inputs[name] = t;
  }
};

/// Architecture hyperparameters shared by the zoo networks.
struct ZooOptions {
  std::string arch = "cnn";     // "cnn", "resnet" or "mlp"
  int64_t channels = 1;         // input channels
  int64_t height = 28;          // input height
  int64_t width = 28;           // input width
  int64_t num_classes = 10;     // output logits
  int64_t width_mult = 32;      // channels of the first stage (cnn, resnet); hidden/8 for mlp
  double dropout = 0.25;        // dropout before the last layer (training only)
  std::string head = "linear";  // auxiliary head beside the linear class head: "linear" (none),
                                // "duq" or "loss" (see heads.h)

  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
};

class ZooNetImpl : public torch::nn::Module {
 public:
  /// x: [N, C, H, W] already normalised. Returns logits [N, num_classes].
  virtual torch::Tensor forward(const torch::Tensor& x, Tap* tap = nullptr) = 0;
  /// Feature names the Tap can record, in forward order.
  virtual std::vector<std::string> feature_names() const = 0;
  /// BN layers (name -> module) in forward order.
  virtual std::vector<std::pair<std::string, torch::nn::BatchNorm2d>> bn_modules() const = 0;
  /// The feature the auxiliary heads read: the penultimate embedding [N, E] (the input of
  /// the linear class head, before dropout).
  virtual std::string embedding_name() const = 0;
  /// The features the loss estimator reads, in forward order: the outputs of the
  /// convolutional stages (cnn: stage1, stage2; resnet: layer1-3; mlp: its hidden layers).
  virtual std::vector<std::string> loss_features() const = 0;

  /// Asks `tap` for what the auxiliary head reads (nothing for head "linear").
  void want_head_inputs(Tap& tap) const;
  /// The loss estimator's prediction s [N] from a forward pass recorded by a Tap that
  /// want_head_inputs() prepared. Requires head() == "loss".
  torch::Tensor estimate_loss(const Tap& tap);

  /// ZooOptions::head: "linear", "duq" or "loss".
  const std::string& head() const { return head_; }
  /// The DUQ head; null unless head() == "duq".
  DuqHead duq_head() const { return duq_; }
  /// The loss-estimator head; null unless head() == "loss".
  LossHead loss_head() const { return loss_; }

 protected:
  /// Registers the auxiliary head named by o.head (if any): DUQ on an embedding of `dim`
  /// features, the loss estimator on loss_features() of `loss_channels` channels. Called
  /// last by each architecture's constructor.
  void add_head(const ZooOptions& o, int64_t dim, std::vector<int64_t> loss_channels);

 private:
  std::string head_ = "linear";
  DuqHead duq_{nullptr};
  LossHead loss_{nullptr};
};

/// Builds a freshly initialised network. Throws cfx::Error for an unknown arch, listing
/// the known ones.
std::shared_ptr<ZooNetImpl> make_zoo_net(const ZooOptions& options);

/// Names accepted by ZooOptions::arch.
std::vector<std::string> zoo_arch_names();

/// Names accepted by ZooOptions::head.
std::vector<std::string> zoo_head_names();

}  // namespace cfx
