// The attribute-conditional sentence VAE of AIP's text side (METHODS.md §4, `cfx train
// text-cvae`): encoder E(tokens) -> z, a non-autoregressive decoder G(z, a) -> per-position token
// logits [N, T, V], and an attribute classifier D on (soft) tokens. D is fitted to the corpus's
// known attributes first, then frozen while E and G learn reconstruction + beta·KL +
// gamma·attribute consistency: D must see a' in G(z, a') for a' taken from other sentences.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/text/corpus.h"
#include "cfx/text/token_net.h"

namespace cfx {

struct TextCvaeOptions {
  int64_t max_len = 12;        // T, tokens per sentence
  int64_t latent = 16;         // L, the size of z
  int64_t embed = 32;          // encoder embedding width
  int64_t hidden = 128;        // width of the encoder and decoder layers
  int64_t critic_hidden = 64;  // width of the attribute classifier D (a TokenNet)
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
  static TextCvaeOptions from_json(const nlohmann::json& j);
};

struct TextCvaeTrainOptions {
  TextTrainOptions loop;         // epochs, batch size, lr, seed, device of E and G's training
  int64_t attribute_epochs = 4;  // epochs of D on the real sentences before it is frozen
  double beta = 0.05;            // weight of the KL term per sentence (0.5 kept the attributes
                                 // but lost which noun and adjective: 0.2% sentences rebuilt)
  double gamma = 2.0;            // weight of the attribute-consistency term (sum over attributes)
  double temperature = 0.5;      // τ of softmax(G/τ), the soft sentences D reads in training
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
};

class TextCvae {
 public:
  TextCvae(Vocab vocab, std::vector<std::string> attribute_names, TextCvaeOptions options);
  /// ids [N, T] -> the posterior mean z [N, L].
  torch::Tensor encode(const torch::Tensor& ids);
  /// z [N, L], a [N, K] in [0, 1] -> token logits [N, T, V]; differentiable in z and a.
  torch::Tensor decode_logits(const torch::Tensor& z, const torch::Tensor& a);
  /// D's attribute probabilities [N, K] of token ids [N, T].
  torch::Tensor attributes(const torch::Tensor& ids);
  /// D's attribute probabilities of token distributions [N, T, V].
  torch::Tensor attributes_soft(const torch::Tensor& probs);

  /// Trains D, then E and G; returns the numbers of measure(test) and the last training losses.
  nlohmann::json train(const TextDataset& train, const TextDataset& test,
                       const TextCvaeTrainOptions& options);
  /// Held-out quality, all on argmax-decoded sentences: "recon_token_accuracy" (tokens of
  /// G(E(x), a) equal to x's, pads included), "recon_sentence_accuracy", "attribute_accuracy"
  /// (D on the real sentences), "attribute_control" (entries of a' that D sees in G(E(x), a'),
  /// a' from another sentence), "attribute_control_all" (sentences with all of a' seen),
  /// "flip_control" (per attribute: D sees the flip when only that attribute is flipped) and
  /// "flip_control_oracle" (the same judged by the grammar, with the other attributes kept).
  nlohmann::json measure(const TextDataset& test);

  const Vocab& vocab() const { return vocab_; }
  const std::vector<std::string>& attribute_names() const { return attribute_names_; }
  int64_t latent_dim() const { return options_.latent; }
  int64_t max_len() const { return options_.max_len; }
  const TextCvaeOptions& options() const { return options_; }
  void to(torch::Device device);
  torch::Device device() const { return device_; }

  void save(const std::string& path, nlohmann::json meta) const;
  /// Loads a checkpoint written by save(); throws cfx::Error naming the path on any problem.
  static std::shared_ptr<TextCvae> load(const std::string& path);
  std::string source;  // the file it was loaded from, if any

 private:
  Vocab vocab_;
  std::vector<std::string> attribute_names_;
  TextCvaeOptions options_;
  std::shared_ptr<torch::nn::Module> net_;
  torch::Device device_ = torch::kCPU;
};

}  // namespace cfx
