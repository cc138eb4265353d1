// AIP — attribute-informed perturbation (METHODS.md §4): the counterfactual is G(z, a) for an
// attribute-conditional generator, found by moving the latent z and the relaxed attributes a
// away from z0 = E(x, a0), a0 = D(x) until F decides the target. The explanation is in
// attribute words: which attributes had to change, and by how much.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "cfx/methods/aip/search.h"
#include "cfx/methods/method.h"
#include "cfx/models/cvae.h"

namespace cfx {

struct AipOptions {
  std::string cvae;             // conditional VAE checkpoint ("": <dataset>-cvae.pt beside F)
  std::string attributes;       // attribute classifier D ("": the one the cvae was trained with)
  std::string optimise = "za";  // what moves: "za" (both), "z" (latent only), "a" (attributes)
  // Attributes the search may move, comma-separated names of D's attributes ("": every one),
  // as latent's `edit`; the rest stay at a0 = D(x). For attributes the data never varies
  // (MNIST's and Fashion-MNIST's height): the cvae never saw their code change, and a free
  // search moves it and names it in the explanation.
  std::string edit;
  AipSearchOptions search;  // steps, lr, alpha (‖z − z0‖²), beta (‖a − a0‖₁), confidence
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
  /// Unknown keys and bad values throw cfx::Error.
  static AipOptions from_json(const nlohmann::json& j);
};

class AipCounterfactual : public Method {
 public:
  explicit AipCounterfactual(AipOptions options);
  std::string name() const override { return "aip"; }
  /// It draws nothing, and its runs share the loaded models read-only.
  bool concurrent_runs() const override { return true; }
  nlohmann::json config() const override;
  /// Result::counterfactuals = G(z*, a*); Result::reconstruction = G(z0, a0) and its error;
  /// Result::attribute_shift = a0 and a*.
  Result run(const Request& request) override;

 private:
  /// The models, loaded by the first run (the default cvae depends on F).
  const AipModels& models(const Classifier& F);

  AipOptions options_;
  mutable std::mutex models_mutex_;  // guards models_ (runs may start side by side)
  AipModels models_;
};

/// "slant +0.42, thickness −0.21": the attributes whose value moved by at least `min_change`,
/// largest first ("no attribute changed" when none did). before/after: [K].
std::string describe_attribute_changes(const std::vector<std::string>& names,
                                       const torch::Tensor& before, const torch::Tensor& after,
                                       double min_change = 0.05);

}  // namespace cfx
