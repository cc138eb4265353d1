// The optimisation at the heart of AIP (METHODS.md §4), shared by the image and the text side:
// starting from z0 = E(x) and a0 = D(x), move the latent z and the relaxed attributes a ∈ [0, 1]
// to minimise  CE(F(G(z, a)), t) + alpha·‖z − z0‖² + beta·‖a − a0‖₁  until F decides t.
// z moves by Adam. a moves by a proximal gradient step normalised per item: the attribute F's
// loss is most sensitive to moves by attribute_lr, the others in proportion, and the ℓ1 prox
// then shrinks every attribute's change from a0 by attribute_lr·beta — so an attribute whose
// gradient stays below beta times the largest one never leaves a0. (Adam on a, tried first,
// moved every attribute by about lr per step whatever its gradient, and every explanation
// listed every attribute.)
// With attribute_step = "greedy" a moves one unit per step instead (an attribute, or a group's
// swap), chosen by what a whole edit does rather than by the local slope: every attribute is
// probed at both ends of [0, 1] (the others held), a member of an exclusive group only by
// switching it on and the rest of its group off (the one-factor edits the cvae is trained on),
// and a moves towards the probe with the lowest CE + beta·‖a − a0‖₁, its largest coordinate by
// attribute_lr (nothing moves when no probe beats staying). On an entangled generator the
// slope at a0 favours whichever code the decoder leaks into F's input most, and the proximal
// step then moves those (measured on shapes: the attribute F reads had the largest slope for
// 25% of items); a probe asks the generator for the edit itself. Costs at most 2K extra
// forward passes of G and F per step (probes that would not move a are skipped).
// What G and F are (images, sentences) is hidden behind one function from (z, a) to F's logits.
#pragma once

#include <torch/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/methods/method.h"

namespace cfx {

struct AipSearchOptions {
  int64_t steps = 300;         // most Adam steps per item
  double lr = 0.05;            // Adam learning rate on z
  double attribute_lr = 0.05;  // per-step move of the attribute with the largest gradient
  double alpha = 0.05;         // weight of ‖z − z0‖² (sum over the latent)
  double beta = 0.1;  // weight of ‖a − a0‖₁, relative to the largest attribute gradient
  double confidence = 0.5;  // an item stops once F's argmax is its target and p_target ≥ this
  bool optimise_z = true;   // false: z stays z0 and only the attributes move
  bool optimise_a = true;   // false: a stays a0 and only z moves
  std::string attribute_step = "gradient";  // how a moves: "gradient" (proximal) or "greedy"
  /// Throws cfx::Error naming the first invalid field, after `label` ("latent option
  /// search_" for latent's refinement).
  void validate(const std::string& label = "aip option ") const;
  /// steps, lr, attribute_lr, alpha, beta, confidence, attribute_step, optimise_z, optimise_a,
  /// each key behind `prefix` (latent's refinement names them search_steps, ...).
  nlohmann::json to_json(const std::string& prefix = "") const;
  /// Sets the fields `j` has (steps, lr, attribute_lr, alpha, beta, confidence, attribute_step
  /// and, with `optimise_flags`, optimise_z/optimise_a; each key behind `prefix`); the owner
  /// checks for unknown keys.
  void read(const nlohmann::json& j, bool optimise_flags, const std::string& prefix = "");
};

/// (z [n, L], a [n, K], idx [n] int64 rows of the batch being evaluated) → F's logits [n, C],
/// differentiable in z and a. Called with the still-running rows only.
using AipLogitsFn = std::function<torch::Tensor(const torch::Tensor& z, const torch::Tensor& a,
                                                const torch::Tensor& idx)>;

struct AipSearchResult {
  torch::Tensor z;          // [N, L] final latent per item
  torch::Tensor a;          // [N, K] final attributes per item, in [0, 1]
  torch::Tensor steps;      // [N] int64 steps taken
  torch::Tensor converged;  // [N] bool: F decided the target with p_target ≥ confidence
  std::vector<std::vector<float>> target_prob_trace;  // per item: p_target at each step
  std::vector<std::vector<float>> loss_trace;         // per item: loss at each step
};

/// z0: [N, L], a0: [N, K] in [0, 1], targets: [N] int64, all on one device. Items stop
/// independently, and an item's path does not depend on the others in its batch.
/// exclusive: [K, K] bool, true where two attributes belong to one exclusive group (the greedy
/// step's probes switch a one-hot group over as a whole), or undefined for none.
/// fixed: [K] bool, true for attributes that stay at a0 (neither step moves them, and no greedy
/// probe that would is run), or undefined for none.
AipSearchResult aip_search(const AipLogitsFn& logits, const torch::Tensor& z0,
                           const torch::Tensor& a0, const torch::Tensor& targets,
                           const AipSearchOptions& options, const ProgressFn& progress = {},
                           const torch::Tensor& exclusive = {}, const torch::Tensor& fixed = {});

}  // namespace cfx
