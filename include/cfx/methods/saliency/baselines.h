// Saliency baselines users know, for comparison with FIDO: the vanilla gradient (Simonyan et
// al.) and occlusion (Zeiler & Fergus). Both batched; maps normalised per image to [0, 1].
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cfx/methods/method.h"
#include "cfx/methods/saliency/infill.h"

namespace cfx {

struct GradientOptions {
  bool absolute = true;  // |∂ log p_c/∂x| (else the positive part only)

  void validate() const {}
  nlohmann::json to_json() const;
  static GradientOptions from_json(const nlohmann::json& j);
};

/// Saliency = max over channels of |∂ log p_c(x) / ∂x|, divided by its per-image maximum.
class GradientSaliency : public Method {
 public:
  explicit GradientSaliency(GradientOptions options) : options_(options) {}
  std::string name() const override { return "gradient"; }
  nlohmann::json config() const override;
  Result run(const Request& request) override;
  bool concurrent_runs() const override { return true; }  // draws nothing

 private:
  GradientOptions options_;
};

struct OcclusionOptions {
  int64_t patch = 6;             // side of the occluding square in pixels
  int64_t stride = 2;            // step between squares in pixels
  std::string infill = "mean";   // what replaces the square (see infiller_names())
  InfillOptions infill_options;  // blur_sigma, local_window, random_noise, inpainter path
  int64_t batch = 512;           // occluded images per forward pass

  void validate() const;
  nlohmann::json to_json() const;
  static OcclusionOptions from_json(const nlohmann::json& j);
};

/// Saliency of a pixel = mean drop of p_c over the squares covering it, clipped at 0 and
/// divided by its per-image maximum (all zeros if no square lowers p_c).
class OcclusionSaliency : public Method {
 public:
  explicit OcclusionSaliency(OcclusionOptions options);
  std::string name() const override { return "occlusion"; }
  bool needs_input_gradient() const override { return false; }  // reads decisions only
  nlohmann::json config() const override;
  Result run(const Request& request) override;
  /// Draws nothing, except a stochastic in-filler's noise (one draw per item, from a
  /// generator seeded with the item's own seed).
  bool concurrent_runs() const override { return true; }

 private:
  OcclusionOptions options_;
};

/// Divides each map [N, 1, H, W] by its maximum (maps that are all ≤ 0 become 0).
torch::Tensor normalize_maps(const torch::Tensor& maps);

}  // namespace cfx
