// Class-conditional autoencoders for the realism metrics IM1 and IM2 (METHODS.md §5, after
// Van Looveren & Klaise): one small convolutional autoencoder per class, trained only on that
// class's images, plus one trained on every class. `cfx train autoencoder` makes them; one
// checkpoint (weights + sidecar of kind "autoencoders") holds the whole set.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/data/dataset.h"

namespace cfx {

struct AutoencoderOptions {
  int64_t channels = 1;  // image channels
  int64_t width = 16;    // channels of the first conv (twice that at the bottleneck)
  int64_t latent = 8;    // channels of the bottleneck at 1/4 resolution
  // "leaky_relu" (slope 0.2) or "relu". With ReLU whole bottleneck channels can die (the toy
  // autoencoders of the Realism test collapsed below latent 8); ReLU is kept for checkpoints
  // written before the option existed. (MNIST's stuck class autoencoder needed the BCE loss too:
  // leaky ReLU with MSE still drew black, see AutoencoderTrainOptions::loss.)
  std::string activation = "leaky_relu";

  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
};

struct AutoencoderTrainOptions {
  int64_t epochs = 4;       // passes over each class's training images
  int64_t batch_size = 64;  // items per step
  double lr = 2e-3;         // Adam learning rate
  // "bce" (on the logits) or "mse". MSE through the output sigmoid stops learning once the
  // sigmoid saturates: an MNIST class autoencoder got stuck drawing black (test MSE 0.10).
  // "mse" is kept to reproduce the autoencoders trained before the option existed.
  std::string loss = "bce";
  uint64_t seed = 0;           // initialisation and shuffling
  std::string device = "cpu";  // where to train

  void validate() const;
  nlohmann::json to_json() const;
};

/// K class autoencoders and one for all classes. Images in [0, 1] in, reconstructions out.
class ClassAutoencoders {
 public:
  ClassAutoencoders(int64_t num_classes, AutoencoderOptions options);

  /// Reconstructions [N, C, H, W] of x by the autoencoder of class `cls` per item ([N] int64);
  /// -1 selects the all-classes autoencoder.
  torch::Tensor reconstruct(const torch::Tensor& x, const torch::Tensor& cls);
  /// Reconstruction by the all-classes autoencoder.
  torch::Tensor reconstruct_all(const torch::Tensor& x);

  /// Trains every autoencoder on `train` (per class and all); returns the mean squared
  /// reconstruction error of each on `test` ("class:<name>", "all").
  nlohmann::json train(const Dataset& train, const Dataset& test,
                       const AutoencoderTrainOptions& options);

  void save(const std::string& path, nlohmann::json meta) const;
  /// Loads a set written by save(); throws cfx::Error naming the path on any problem.
  static ClassAutoencoders load(const std::string& path);

  int64_t num_classes() const { return num_classes_; }
  void to(torch::Device device);

 private:
  int64_t num_classes_;
  AutoencoderOptions options_;
  std::shared_ptr<torch::nn::Module> root_;              // owns every autoencoder
  std::vector<std::shared_ptr<torch::nn::Module>> aes_;  // K per class, then all
  torch::Device device_ = torch::kCPU;
};

}  // namespace cfx
