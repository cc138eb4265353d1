// Image priors of the inversion family (METHODS.md §1): how the counterfactual x̄ is
// parameterised. Every prior keeps separate parameters per item (first dimension N), so a
// batch of queries is optimised together while each item has its own image model.
//   pixel: x̄ = the free pixels (clamped to [0,1]) or σ(w).
//   dip:   x̄ = g_θ(z), a small untrained U-Net with fixed noise input z (deep image prior).
//          Above 127 pixels it renders at a fraction of the query's side (dip_scale) and the
//          counterfactual is x̄ = x0 + up(g_θ(z)) − up(g_θ₀(z)), θ₀ the fitted weights: the
//          U-Net's change, upsampled, on the query's own detail (docs/methods.md).
//   inr:   x̄ = MLP_θ(Fourier features of the pixel coordinates) (implicit representation).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cfx {

struct PriorOptions {
  std::string prior = "pixel";  // "pixel", "dip" or "inr"
  std::string param = "clamp";  // pixel: "clamp" (free pixels, projected) or "sigmoid" (x̄ = σ(w))
  int64_t dip_channels = 16;    // dip: channels of the U-Net's first level (twice that below)
  double dip_noise = 0.1;       // dip: std of the fixed noise input z
  int64_t dip_noise_channels = 8;  // dip: channels of z
  int64_t dip_scale = 0;      // dip: the U-Net renders at 1/dip_scale of the query's side (1 = full
                              // size); 0 = auto: 1 below 128 pixels, else the smallest power of two
                              // that brings the shorter side below 128 (224 -> 2: 112x112)
  int64_t inr_features = 64;  // inr: Fourier frequencies (sin and cos of each)
  double inr_scale = 4.0;     // inr: std of the frequencies, in cycles per image side
  int64_t inr_hidden = 64;    // inr: hidden units of each of the two hidden layers

  /// Throws cfx::Error naming the first invalid field and its value.
  void validate() const;
};

class ImagePrior {
 public:
  virtual ~ImagePrior() = default;
  /// Per-item parameters [N, ...] for queries x0 [N, C, H, W]; random parts drawn on the CPU
  /// from `gen` (a CPU generator) and moved to x0's device, so a run owns its random stream
  /// (runs on several threads at once do not share one) and a seed draws the same
  /// parameters on every device. For pixel they reproduce x0 exactly; dip and inr need
  /// fitting (needs_fit()).
  virtual std::vector<torch::Tensor> init(const torch::Tensor& x0, at::Generator& gen) = 0;
  /// The images [n, C, H, W] of items `idx` ([n] int64) from their parameter rows `p`.
  virtual torch::Tensor render(const std::vector<torch::Tensor>& p, const torch::Tensor& idx) = 0;
  /// Called on the full parameters after each optimiser step (pixel/clamp projects to [0,1]).
  virtual void project(std::vector<torch::Tensor>& params) { (void)params; }
  virtual bool needs_fit() const { return false; }
  /// What the fit compares: the prior's image of items `idx` and the queries it is fitted to,
  /// at the prior's own resolution (dip below full size: its render and x0 area-averaged).
  virtual torch::Tensor fit_render(const std::vector<torch::Tensor>& p, const torch::Tensor& idx) {
    return render(p, idx);
  }
  virtual torch::Tensor fit_target(const torch::Tensor& x0) { return x0; }
  /// Called once after the fit (also with no fit steps) with every item's fitted parameters.
  virtual void fitted(const std::vector<torch::Tensor>& p) { (void)p; }
};

/// The dip_scale used for queries of side `height` x `width` (resolves 0 = auto).
int64_t dip_scale_for(int64_t dip_scale, int64_t height, int64_t width);

/// Builds the prior `options.prior`; throws cfx::Error for an unknown name.
std::unique_ptr<ImagePrior> make_prior(const PriorOptions& options);

/// Peak signal-to-noise ratio per item of a against b ([N, ...] in [0, 1]) in dB, capped at 100.
torch::Tensor psnr(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace cfx
