// A convolutional VAE, the generator cfx trains itself (`cfx train vae`) for latent-space
// counterfactuals (METHODS.md §3). One checkpoint (weights + sidecar of kind "vae") holds it.
#pragma once

#include <torch/nn/module.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cfx/data/dataset.h"
#include "cfx/models/generator.h"

namespace cfx {

struct VaeOptions {
  int64_t channels = 1;     // image channels, 1 or 3
  int64_t height = 28;      // image height, a multiple of 4
  int64_t width = 28;       // image width, a multiple of 4
  int64_t latent = 16;      // latent size L, 1 to 1024
  int64_t width_mult = 32;  // channels of the first conv (twice that at 1/4 resolution)
  /// "conv": a linear layer to 1/4 resolution and two transposed convs up (DCGAN-like);
  /// "broadcast": the spatial broadcast decoder (Watters et al. 2019): (z, a) tiled over every
  /// pixel with its x, y coordinates, then four 3x3 convs of 2 * width_mult channels at full
  /// resolution — it draws small objects' corners a blurring upsampler loses (docs/models.md).
  std::string decoder = "conv";
  /// Broadcast decoder only: draw at this multiple of the resolution and box-average the
  /// pixel probabilities down, as the shapes renderer antialiases its drawing (1: draw at the
  /// image's resolution). Aimed at edges drawn softer than the data's (docs/models.md) (1..4)
  int64_t supersample = 1;
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
  static VaeOptions from_json(const nlohmann::json& j);
};

struct VaeTrainOptions {
  int64_t epochs = 20;         // passes over the training images
  int64_t batch_size = 64;     // items per step
  double lr = 1e-3;            // Adam learning rate
  double beta = 1.0;           // weight of the KL term (1: the ELBO)
  uint64_t seed = 0;           // initialisation, shuffling and the reparameterisation noise
  std::string device = "cpu";  // where to train
  void validate() const;
  nlohmann::json to_json() const;
};

class Vae : public Generator {
 public:
  explicit Vae(VaeOptions options);
  torch::Tensor decode(const torch::Tensor& w) override;
  bool has_encoder() const override { return true; }
  torch::Tensor encode(const torch::Tensor& x) override;
  int64_t latent_dim() const override { return options_.latent; }
  std::vector<int64_t> output_shape() const override;
  void to(torch::Device device) override;
  torch::Device device() const override { return device_; }

  /// Trains on `train`'s images; returns held-out numbers on `test`: {"test_recon_mse" (mean
  /// squared error per pixel of decode(encode(x))), "test_kl" (per image), "train_loss"}.
  nlohmann::json train(const Dataset& train, const Dataset& test, const VaeTrainOptions& options);
  void save(const std::string& path, nlohmann::json meta) const;
  /// Loads a checkpoint written by save(); throws cfx::Error naming the path on any problem.
  static std::shared_ptr<Vae> load(const std::string& path);
  const VaeOptions& options() const { return options_; }

 private:
  VaeOptions options_;
  std::shared_ptr<torch::nn::Module> net_;
  torch::Device device_ = torch::kCPU;
};

}  // namespace cfx
