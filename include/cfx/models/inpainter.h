// The generative in-filler of FIDO (METHODS.md §2): a convolutional encoder-decoder with
// dilated convolutions that sees a masked image and its mask and paints the missing pixels.
// `cfx train inpainter` trains it on random rectangles and random pixel masks; one checkpoint
// (weights + sidecar of kind "inpainter") holds it.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cfx/data/dataset.h"

namespace cfx {

struct InpainterOptions {
  int64_t channels = 1;  // image channels
  int64_t width = 32;    // channels of the first conv (twice that in the dilated middle)
  int64_t latent = 0;    // > 0: a conditional VAE with z ~ N(0, I) of this size, so each
                         // painting is one sample of many (FIDO's generative in-filler);
                         // 0: one deterministic painting (checkpoints before 2026-11-30)

  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
};

struct InpainterTrainOptions {
  int64_t epochs = 3;          // passes over the training images
  int64_t batch_size = 64;     // items per step
  double lr = 1e-3;            // Adam learning rate (gradients clipped to norm 1)
  uint64_t seed = 0;           // initialisation, shuffling and masks
  std::string device = "cpu";  // where to train
  double kl = 1.0;             // latent > 0: weight of KL(q(z | x, mask) ‖ N(0, I)), in nats
                               // per image pixel like the reconstruction term

  void validate() const;
  nlohmann::json to_json() const;
};

/// Random training/evaluation masks [n, 1, h, w] in {0, 1} (1 = pixel kept): half are 1-3
/// random rectangles, half are Bernoulli drop-outs on a random coarse grid (1, 2 or 4 pixels
/// per cell), the shapes FIDO's hard masks take. Uses torch's global generator.
torch::Tensor random_infill_masks(int64_t n, int64_t h, int64_t w);

class Inpainter {
 public:
  explicit Inpainter(InpainterOptions options);

  /// x: [N, C, H, W] in [0, 1]; keep: [N, 1, H, W] in {0, 1} (1 = known pixel). Returns the
  /// network's painting [N, C, H, W] of the whole image (callers composite it with x).
  /// Differentiable in the weights only when grad mode is on.
  /// With latent > 0, `noise` [N, latent] is z for each row (standard normal draws give
  /// samples; undefined or zeros give the prior mean's painting); ignored when latent = 0.
  torch::Tensor paint(const torch::Tensor& x, const torch::Tensor& keep,
                      const torch::Tensor& noise = {});

  /// Trains on `train`; returns the held-out mean absolute error over the missing pixels of
  /// `test` with fixed random masks (seed options.seed + 1), as {"test_l1_missing": e}.
  nlohmann::json train(const Dataset& train, const Dataset& test,
                       const InpainterTrainOptions& options);

  void save(const std::string& path, nlohmann::json meta) const;
  /// Loads a checkpoint written by save(); throws cfx::Error naming the path on any problem.
  static std::shared_ptr<Inpainter> load(const std::string& path);

  const InpainterOptions& options() const { return options_; }
  void to(torch::Device device);
  torch::Device device() const { return device_; }

 private:
  InpainterOptions options_;
  std::shared_ptr<torch::nn::Module> net_;
  torch::Device device_ = torch::kCPU;
};

}  // namespace cfx
