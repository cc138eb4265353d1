// The inversion family (METHODS.md §1): optimise a parameterisation of the counterfactual x̄
// so that F(x̄) moves to the target while x̄ stays close to x and natural. One engine, several
// presets (registry names): pixel, deepinv, dip, dip-aux, disc. A preset is only a set of
// defaults for InversionOptions; every field can be overridden.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cfx/methods/inversion/priors.h"
#include "cfx/methods/method.h"

namespace cfx {

struct InversionOptions {
  // Optimisation
  int64_t steps = 300;      // most counterfactual steps per item (all stages together)
  double lr = 0.01;         // Adam learning rate of the counterfactual phase
  double confidence = 0.5;  // an item stops once argmax F(x̄) = t and p_t(x̄) >= this ...
  int64_t min_steps = 0;    // ... and it has run this many steps (terms act after validity)
  // Image prior
  PriorOptions prior;       // parameterisation of x̄ (keys: prior, param, dip_*, inr_*)
  int64_t fit_steps = 500;  // dip/inr: most steps fitting the prior to x before the search
  double fit_lr = 0.01;     // dip/inr: Adam learning rate of the fit
  double fit_psnr = 30.0;   // dip/inr: an item's fit stops at this PSNR (dB)
  // Loss terms (weight 0 turns a term off)
  double validity = 1.0;  // cross-entropy to the target (a hinge at the stage's probability)
  double l1 = 2.0;        // mean |x̄ − x|: proximity, sparse changes
  double l2 = 0.0;        // mean (x̄ − x)²
  double tv = 0.1;        // total variation of x̄: smooth changes
  double feature = 0.0;  // feature consistency / pre-image Σ_l ‖F_l(x̄) − F_l(x)‖²/‖F_l(x)‖²
  std::vector<std::string> feature_layers;  // layers of the feature term; empty: one at 40% depth
  double bn = 0.0;                          // batch-norm statistics prior (DeepInversion)
  double duq = 0.0;        // manifold consistency: −log K_t(x̄) of the model's DUQ head
  double loss_head = 0.0;  // manifold consistency: the loss-estimator head's ŝ(x̄)
  std::string manifold = "weights";  // "weights": terms by their weights; "duq-or-bn": the DUQ
                                     // term if the model has a DUQ head, else the BN prior
  // Progressive schedule
  std::vector<double> stages;   // required p_t per stage, increasing; empty: one stage
  int64_t stage_min_steps = 0;  // steps an item spends in each stage but the last at least
  int64_t coarse_stages = 0;    // the first k stages change coarse structure only
  int64_t coarse_factor = 4;    // block size of the coarse stages' gradient averaging

  std::set<std::string> given;  // keys set explicitly (from_json); not part of to_json()

  /// Throws cfx::Error naming the first invalid field and its value.
  void validate() const;
  nlohmann::json to_json() const;
  /// The defaults of `preset`, overridden by `j`; unknown keys throw cfx::Error listing the
  /// known ones.
  static InversionOptions from_json(const nlohmann::json& j, const std::string& preset = "pixel");
  /// The defaults of a preset; throws cfx::Error for an unknown name.
  static InversionOptions preset(const std::string& name);
};

/// Names of the presets, in registry order.
std::vector<std::string> inversion_presets();

class Inversion : public Method {
 public:
  Inversion(std::string preset, InversionOptions options);
  std::string name() const override { return preset_; }
  nlohmann::json config() const override;
  /// Fits the prior to each query (dip, inr), then optimises all items together; an item that
  /// completes its last stage stops changing. Terms that cannot apply to the classifier (no
  /// BN layers, no DUQ or loss head) are dropped with one notice, or throw cfx::Error if they
  /// were asked for explicitly.
  Result run(const Request& request) override;
  /// Yes: a run draws from its own generator (seeded with request.seed), reads the
  /// classifier without changing it, and its one shared member is guarded.
  bool concurrent_runs() const override { return true; }
  const InversionOptions& options() const { return options_; }

 private:
  std::string preset_;
  InversionOptions options_;
  std::mutex noticed_mutex_;
  std::set<std::string> noticed_;  // notices already given (run() is called once per chunk)
};

}  // namespace cfx
