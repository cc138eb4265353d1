// The inversion family (METHODS.md §1): optimise a parameterisation of the counterfactual
// x̄ so that F(x̄) moves to the target while x̄ stays close to x. This header holds the
// `pixel` preset (vanilla inversion, Wachter-style: validity + L1 + TV on free pixels).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cfx/methods/method.h"

namespace cfx {

struct InversionOptions {
  int64_t steps = 300;          // most optimisation steps per item
  double lr = 0.01;             // Adam learning rate (pixel units for param "clamp")
  double validity = 1.0;        // weight of cross-entropy to the target class
  double l1 = 2.0;              // weight of mean |x̄ - x| (proximity, sparse changes)
  double l2 = 0.0;              // weight of mean (x̄ - x)^2
  double tv = 0.1;              // weight of the total variation of x̄ (smooth changes)
  double confidence = 0.5;      // an item stops once argmax F(x̄) = t and p_t(x̄) >= this
  std::string param = "clamp";  // "clamp": free pixels projected to [0,1]; "sigmoid": x̄ = σ(w)

  /// Throws cfx::Error naming the first invalid field and its value.
  void validate() const;
  nlohmann::json to_json() const;
  /// Defaults overridden by `j`; unknown keys throw cfx::Error listing the known ones.
  static InversionOptions from_json(const nlohmann::json& j);
};

class PixelInversion : public Method {
 public:
  explicit PixelInversion(InversionOptions options);
  std::string name() const override { return "pixel"; }
  nlohmann::json config() const override;
  /// Optimises all items of the request together; finished items stop changing.
  Result run(const Request& request) override;
  const InversionOptions& options() const { return options_; }

 private:
  InversionOptions options_;
};

/// Mean total variation per item of x [N, C, H, W] -> [N].
torch::Tensor total_variation(const torch::Tensor& x);

}  // namespace cfx
