// Generators for latent-space counterfactuals (METHODS.md §3): a map G from a latent vector w
// to an image, trained once on images of the domain and not for the classifier being explained.
// cfx trains VAEs (`cfx train vae`, vae.h); a user's own generator comes as a TorchScript
// archive with a `decode` method and, optionally, an `encode` method.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cfx {

class Generator {
 public:
  virtual ~Generator() = default;
  /// w: [N, latent_dim()] on device(). Returns images [N, C, H, W] in [0, 1] (output_shape()),
  /// differentiable with respect to w.
  virtual torch::Tensor decode(const torch::Tensor& w) = 0;
  /// Whether encode() is available; without an encoder, images are inverted by optimisation.
  virtual bool has_encoder() const = 0;
  /// x: [N, C, H, W] in [0, 1] on device(). Returns the latent mean [N, latent_dim()].
  /// Throws cfx::Error if !has_encoder().
  virtual torch::Tensor encode(const torch::Tensor& x) = 0;
  virtual int64_t latent_dim() const = 0;
  /// {C, H, W} of decode()'s images.
  virtual std::vector<int64_t> output_shape() const = 0;
  virtual void to(torch::Device device) = 0;
  virtual torch::Device device() const = 0;
  /// The file it was loaded from ("" if built in memory).
  std::string source;
};

/// Loads a generator: a cfx VAE checkpoint (weights + sidecar of kind "vae") or a TorchScript
/// archive with `decode(w: [N, L]) -> [N, C, H, W]` in [0, 1] and optionally
/// `encode(x) -> [N, L]` (or a tuple whose first element is the latent mean). The latent size
/// comes from the archive's extra file cfx.json ({"latent_dim": L}) or an integer attribute
/// `latent_dim` of the module; the output shape from decoding one zero latent. Latents are
/// assumed to have a standard normal prior. Throws cfx::Error naming the path and the problem.
std::shared_ptr<Generator> load_generator(const std::string& path);

/// How images are inverted into a generator's latent space.
struct InvertOptions {
  int64_t steps = 200;         // Adam steps on ||G(w) - x||² when the generator has no encoder (or
                               // to refine the encoder's latent if `refine`), >= 0
  double lr = 0.05;            // Adam learning rate, > 0
  double prior_weight = 1e-3;  // weight of ||w||² (keeps w where the prior has mass), >= 0
  bool refine = false;         // also optimise when there is an encoder (else start at w = 0)
  int64_t batch_size = 256;    // items inverted together (bounds memory; items are
                               // independent, so it does not change the latents), >= 1
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
};

/// Latents [N, L] whose decoding reproduces x ([N, C, H, W] in [0, 1], on G's device): the
/// encoder's mean when G has one, optimised (all items together) when it has none or `refine`.
/// Throws cfx::Error if x's shape is not G's output shape.
torch::Tensor invert_generator(Generator& G, const torch::Tensor& x, const InvertOptions& options);

}  // namespace cfx
