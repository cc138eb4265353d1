// Classifiers exported from PyTorch with torch.jit.script or torch.jit.trace.
//
// Features and batch-norm inputs are captured without hooks (TorchScript has none in
// C++): a copy of the inlined forward graph is rewritten so that the wanted values become
// extra outputs, then run as its own function on the same module.
//
// Naming (the same for scripted and traced modules, since both keep submodule calls as
// prim::CallMethod): the forward graph is inlined one call at a time, and the value a
// submodule's forward returns is named by its attribute path from the root module, e.g.
// "stem", "stem.0", "layer1", "layer1.0", "layer1.0.conv1", "fc". Batch-norm layers are the
// aten::batch_norm nodes, named by the module that owns their weight / running stats
// ("layer1.0.bn1"). If a graph has no submodule calls at all (e.g. an archive of a frozen or
// already inlined module), features are named by node kind and per-kind index instead
// ("aten::relu#0", "aten::conv2d#1"), and batch-norm layers by their inlined call stack or
// "batch_norm#k". Only values in the top-level block of forward (not inside if/loop bodies)
// that are tensors of shape [N, ...] with at least two dimensions are offered as features.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cfx/models/classifier.h"

namespace torch {
namespace jit {
struct Module;
}  // namespace jit
}  // namespace torch

namespace cfx {

class TorchScriptClassifier : public Classifier {
 public:
  /// See load_torchscript_classifier().
  TorchScriptClassifier(const std::string& path, const ClassifierOverrides& overrides);
  ~TorchScriptClassifier() override;

  torch::Tensor logits(const torch::Tensor& x) override;
  Capture capture(const torch::Tensor& x, const std::vector<std::string>& feature_layers,
                  bool bn_inputs) override;
  std::vector<std::string> feature_layers() const override;
  std::vector<BNLayer> bn_layers() const override;
  int64_t num_parameters() const override;
  std::vector<torch::Tensor> weights() override;
  void to(torch::Device device) override;
  torch::Device device() const override;

  /// The loaded module (eval mode, parameters frozen: requires_grad is off).
  torch::jit::Module& module();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A TorchScript archive's `cfx.json` metadata; empty fields were not given.
struct TorchScriptMeta {
  std::vector<int64_t> input_shape;  // [C, H, W], each > 0
  std::vector<std::string> classes;  // class names (numbers become their text)
  std::vector<double> mean, std;     // normalisation, 1 or C values each
  std::string dataset;               // the dataset the model was trained on, if said
};

/// Parses `text`, the cfx.json of the archive at `path` (named in errors); empty text gives
/// empty metadata. Throws cfx::Error for invalid JSON or a field of the wrong type.
TorchScriptMeta parse_torchscript_meta(const std::string& path, const std::string& text);

/// Loads a TorchScript archive. Metadata comes from the archive's extra file `cfx.json`
/// ({"input_shape":[C,H,W], "classes":[...], "mean":[...], "std":[...]}), then `overrides`.
/// Throws cfx::Error (naming the path) if the file is not a TorchScript archive, has no
/// forward, or its input shape cannot be determined.
std::shared_ptr<Classifier> load_torchscript_classifier(const std::string& path,
                                                        const ClassifierOverrides& overrides);

}  // namespace cfx
