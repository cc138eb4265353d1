// In-fillers (METHODS.md §2): what a saliency method puts where it removed pixels. One
// interface, `infill(x, keep) -> x̂`; the method composites keep·x + (1 − keep)·x̂. Looked up
// by name: mean, blur, random, local, inpainter (the generative one, FIDO's point).
#pragma once

#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cfx {

class Inpainter;

struct InfillOptions {
  double blur_sigma = 5.0;    // blur: Gaussian standard deviation in pixels
  int64_t local_window = 7;   // local: side of the window whose known pixels are averaged
  double random_noise = 0.2;  // random: standard deviation of the noise on the uniform colour
  std::string inpainter;      // inpainter: checkpoint path (cfx train inpainter)

  void validate() const;
  nlohmann::json to_json() const;
  /// Overrides the fields present in `j` (the keys of to_json()); types are checked.
  void read(const nlohmann::json& j);
};

class Infiller {
 public:
  virtual ~Infiller() = default;
  virtual std::string name() const = 0;
  /// x: [N, C, H, W] in [0, 1]; keep: [N, 1, H, W] in {0, 1} (1 = known pixel), same device.
  /// Returns x̂ [N, C, H, W] in [0, 1]: content for the pixels where keep is 0 (values where
  /// keep is 1 are unspecified). No gradient flows through it.
  virtual torch::Tensor infill(const torch::Tensor& x, const torch::Tensor& keep) = 0;
  /// Size of the noise one stochastic draw takes for a C×H×W image; 0 for a deterministic
  /// in-filler. The caller draws it (FIDO: from the run's own generator, for every item), so
  /// a draw depends on neither the global generator nor the other rows of the batch.
  virtual int64_t noise_dim(int64_t channels, int64_t height, int64_t width) const {
    (void)channels, (void)height, (void)width;
    return 0;
  }
  /// One draw per row with noise [N, noise_dim(C, H, W)] (standard normal): a stochastic
  /// in-filler's samples, which differ with the noise. Deterministic in-fillers return
  /// infill(x, keep).
  virtual torch::Tensor sample(const torch::Tensor& x, const torch::Tensor& keep,
                               const torch::Tensor& /*noise*/) {
    return infill(x, keep);
  }
};

/// Names accepted by make_infiller, in display order.
std::vector<std::string> infiller_names();

/// Throws cfx::Error "invalid infill: '<name>' (use one of ...)" unless `name` is known.
void check_infiller_name(const std::string& name);

/// Builds an in-filler by name; throws cfx::Error for an unknown name (listing the known
/// ones) or an inpainter that cannot be loaded.
std::unique_ptr<Infiller> make_infiller(const std::string& name, const InfillOptions& options,
                                        torch::Device device = torch::kCPU);

/// An in-filler around an already loaded inpainter.
std::unique_ptr<Infiller> make_inpainter_infiller(std::shared_ptr<Inpainter> inpainter);

/// keep·x + (1 − keep)·x̂: the image the classifier sees. x̂ = infiller.sample(x, keep, noise)
/// when noise [N, noise_dim(C, H, W)] is given (a stochastic in-filler's draw), else
/// infiller.infill(x, keep).
torch::Tensor composite(Infiller& infiller, const torch::Tensor& x, const torch::Tensor& keep,
                        const torch::Tensor& noise = {});

/// Mean |x̂ − x| over the pixels where keep is 0 (all channels): how well an in-filler
/// reconstructs what it did not see.
double infill_error(Infiller& infiller, const torch::Tensor& x, const torch::Tensor& keep);

}  // namespace cfx
