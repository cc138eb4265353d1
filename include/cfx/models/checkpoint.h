// cfx checkpoints: weights (`NAME.pt`, a torch serialize archive) plus a JSON sidecar
// (`NAME.json`) with the architecture, dataset, input shape, classes, normalisation, seed,
// training metrics and cfx version, so a model file explains itself.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cfx/models/classifier.h"
#include "cfx/models/zoo.h"

namespace cfx {

/// The sidecar that belongs to a weights file: "dir/name.pt" -> "dir/name.json".
std::string sidecar_path(const std::string& weights_path);

/// Reads and checks a sidecar; returns an empty json if `weights_path` has none.
/// Throws cfx::Error if the sidecar exists but is not a valid cfx checkpoint sidecar.
nlohmann::json read_sidecar(const std::string& weights_path);

/// The sidecar of a checkpoint that must be of `kind` (e.g. "vae"). `what` names the model
/// in messages ("generator"), `make` is the command that makes one ("cfx train vae").
/// Throws cfx::Error if the file or its sidecar is missing or the kind differs.
nlohmann::json read_checkpoint_meta(const std::string& path, const std::string& kind,
                                    const std::string& what, const std::string& make);
/// Serialises a module's parameters and buffers to `path` atomically.
void save_module(torch::nn::Module& module, const std::string& path);

/// Loads parameters and buffers saved by save_module into `module` (same architecture).
/// Throws cfx::Error naming the path if the file is missing, corrupt or does not match. The
/// parameters come back frozen (requires_grad false): a caller that trains the module turns
/// them on again.
void load_module(torch::nn::Module& module, const std::string& path);

/// Writes `meta` (with "format", "cfx_version" added) as the sidecar of `weights_path`.
void write_sidecar(const std::string& weights_path, nlohmann::json meta);

/// A zoo network wrapped as a Classifier.
class NativeClassifier : public Classifier {
 public:
  NativeClassifier(std::shared_ptr<ZooNetImpl> net, ZooOptions options, ClassifierInfo info);

  torch::Tensor logits(const torch::Tensor& x) override;
  Capture capture(const torch::Tensor& x, const std::vector<std::string>& feature_layers,
                  bool bn_inputs) override;
  std::vector<std::string> feature_layers() const override;
  std::vector<BNLayer> bn_layers() const override;
  /// True for "duq" / "loss" when the network was built with that head (ZooOptions::head).
  bool has_head(const std::string& name) const override;
  int64_t num_parameters() const override;
  std::vector<torch::Tensor> weights() override;
  void to(torch::Device device) override;
  torch::Device device() const override { return device_; }

  ZooNetImpl& net() { return *net_; }
  const ZooOptions& options() const { return options_; }

 private:
  std::shared_ptr<ZooNetImpl> net_;
  ZooOptions options_;
  torch::Device device_ = torch::kCPU;
};

/// ZooOptions <-> the sidecar's "arch_options".
nlohmann::json zoo_options_to_json(const ZooOptions& o);
ZooOptions zoo_options_from_json(const nlohmann::json& j);

/// Starts `net` (built from `options`) from the weights of classifier checkpoint `path`:
/// every parameter and buffer of that checkpoint's linear network (its auxiliary head, if
/// any, is skipped) is copied by name; `net`'s head keeps its fresh initialisation. The checkpoint
/// must have the same architecture, input shape, classes and width (its head may differ). Returns
/// its sidecar. Throws cfx::Error naming the path and the mismatch.
nlohmann::json init_from_checkpoint(ZooNetImpl& net, const ZooOptions& options,
                                    const std::string& path);

/// Loads a cfx classifier checkpoint (weights + sidecar); `overrides` may rename classes
/// or change normalisation but not the input shape. `kind` is the sidecar kind expected
/// ("attributes" for attribute classifiers). Throws cfx::Error on any mismatch.
std::shared_ptr<NativeClassifier> load_native_classifier(const std::string& path,
                                                         const ClassifierOverrides& overrides,
                                                         const std::string& kind = "classifier");

}  // namespace cfx
