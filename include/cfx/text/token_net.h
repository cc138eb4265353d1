// The token-level network behind the text classifier F and the cvae's attribute classifier D:
// embedding, two 1-D convolutions, max- and mean-pooling over positions, an MLP. It reads token
// ids or soft token distributions [N, T, V] (probabilities times the embedding matrix), so AIP
// can differentiate through it into a generator's per-position token logits.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace cfx {

struct TokenNetOptions {
  int64_t vocab = 0;     // V, the vocabulary size (with <pad> and <unk>)
  int64_t max_len = 12;  // T, tokens per sentence
  int64_t embed = 32;    // embedding width
  int64_t hidden = 64;   // conv channels and MLP width
  int64_t outputs = 2;   // logits per sentence (classes, or attributes for D)
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
  static TokenNetOptions from_json(const nlohmann::json& j);
};

struct TokenNetImpl : torch::nn::Module {
  explicit TokenNetImpl(const TokenNetOptions& options);
  /// ids [N, T] int64 -> [N, outputs].
  torch::Tensor forward_ids(const torch::Tensor& ids);
  /// probs [N, T, V] (rows sum to 1) -> [N, outputs]; equals forward_ids on one-hot rows.
  torch::Tensor forward_soft(const torch::Tensor& probs);

  TokenNetOptions options;
  torch::nn::Embedding embedding{nullptr};
  torch::nn::Conv1d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  torch::Tensor forward_embedded(const torch::Tensor& e);  // [N, T, D]
};
TORCH_MODULE(TokenNet);

/// The training loop of the text models: epochs of shuffled mini-batches with Adam.
struct TextTrainOptions {
  int64_t epochs = 8;          // passes over the training sentences
  int64_t batch_size = 64;     // sentences per step
  double lr = 2e-3;            // Adam learning rate
  uint64_t seed = 0;           // initialisation, shuffling and sampling noise
  std::string device = "cpu";  // where to train: cpu or cuda
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
};

/// The mini-batch loop of the text models: `options.epochs` passes over n items in shuffled
/// batches, `step(indices)` (a [b] int64 CPU tensor) doing one update and returning its loss,
/// with a progress bar named `label`. Returns the last epoch's mean loss.
double run_epochs(int64_t n, const TextTrainOptions& options, const std::string& label,
                  const std::function<double(const torch::Tensor&)>& step);

/// Trains `net` on token ids [N, T]: cross-entropy when `targets` are class indices [N] int64,
/// binary cross-entropy per output when they are [N, outputs] floats in [0, 1]. `label` names
/// the progress bar. Leaves `net` in eval mode; returns the last epoch's mean loss.
double fit_token_net(TokenNetImpl& net, const torch::Tensor& ids, const torch::Tensor& targets,
                     const TextTrainOptions& options, const std::string& label);

}  // namespace cfx
