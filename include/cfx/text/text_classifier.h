// The token-level text classifier F that `cfx explain-text` explains (`cfx train
// text-classifier`): a TokenNet over the corpus vocabulary. One checkpoint (weights + sidecar
// of kind "text-classifier") holds it with its vocabulary and class names.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/text/corpus.h"
#include "cfx/text/token_net.h"

namespace cfx {

class TextClassifier {
 public:
  /// `arch.vocab` and `arch.outputs` are taken from `vocab` and `classes`.
  TextClassifier(Vocab vocab, TokenNetOptions arch, std::vector<std::string> classes);
  /// ids [N, T] int64 -> logits [N, C].
  torch::Tensor logits(const torch::Tensor& ids);
  /// Token distributions [N, T, V] -> logits [N, C], differentiable in the distributions.
  torch::Tensor logits_soft(const torch::Tensor& probs);
  /// Trains on the corpus labels; returns {"train_loss", "test_accuracy"}.
  nlohmann::json train(const TextDataset& train, const TextDataset& test,
                       const TextTrainOptions& options);
  /// Fraction of `data`'s sentences whose label F predicts.
  double accuracy(const TextDataset& data);

  int64_t num_classes() const { return static_cast<int64_t>(classes_.size()); }
  const std::vector<std::string>& class_names() const { return classes_; }
  const Vocab& vocab() const { return vocab_; }
  int64_t max_len() const { return net_->options.max_len; }
  void to(torch::Device device);
  torch::Device device() const { return device_; }

  void save(const std::string& path, nlohmann::json meta) const;
  /// Loads a checkpoint written by save(); throws cfx::Error naming the path on any problem.
  static std::shared_ptr<TextClassifier> load(const std::string& path);
  std::string source;  // the file it was loaded from, if any

 private:
  Vocab vocab_;
  std::vector<std::string> classes_;
  TokenNet net_{nullptr};
  torch::Device device_ = torch::kCPU;
};

/// Reads the "vocab" list of a text checkpoint's sidecar; `path` names it in messages.
Vocab vocab_from_json(const nlohmann::json& meta, const std::string& path);

}  // namespace cfx
