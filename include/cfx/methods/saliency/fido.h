// FIDO (METHODS.md §2, "Explaining Image Classifiers by Counterfactual Generation"): per-pixel
// drop-out probabilities θ = σ(ℓ) on a coarse grid, learnt so that in-filling the dropped
// pixels keeps (SSR, smallest sufficient region) or destroys (SDR, smallest destroying region)
// the classifier's score for the explained class. With `deterministic` the mask is used as is
// (no Concrete sampling): BBMP, the blur-perturbation baseline of Fong & Vedaldi.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cfx/methods/method.h"
#include "cfx/methods/saliency/infill.h"

namespace cfx {

struct FidoOptions {
  std::string objective = "ssr";     // ssr: keep what suffices; sdr: drop what destroys
  std::string score = "log-odds";    // the class score s_c kept or destroyed: log-odds (the
                                     // paper's log p_c − log Σ_{c'≠c} p_c'), or log-prob
  std::string infill = "inpainter";  // in-filler name (see infiller_names())
  InfillOptions infill_options;      // blur_sigma, local_window, random_noise, inpainter path
  bool deterministic = false;        // BBMP: use the mask itself, no Concrete samples
  int64_t cell = 2;                  // mask grid cell side in pixels (grid bilinearly upsampled)
  int64_t samples = 4;               // Concrete mask samples per item and step (M; 8 until
                                     // 2026-12-01: no better maps at twice the cost, see
                                     // docs/performance.md "FIDO")
  int64_t steps = 300;               // most optimisation steps
  double lr = 0.05;                  // Adam learning rate, decaying linearly to 0
  double lambda = 2.0;               // sparsity weight on the mean mask over the grid
  double lambda_ramp = 0.3;          // λ grows linearly from 0 over this fraction of the steps
  double tv = 0.0;                   // total-variation weight on θ (smoother masks)
  double temperature = 0.1;          // Concrete relaxation temperature τ
  double init = 0.5;                 // initial drop-out probability of every cell
  double tol = 0.01;                 // an item stops when no θ moved more than this ...
  int64_t patience = 20;             // ... over this many steps (after the λ ramp)
  std::set<std::string> given;       // keys the user set explicitly (not serialised)

  /// Throws cfx::Error naming the first invalid field and its value.
  void validate() const;
  nlohmann::json to_json() const;
  /// Defaults of a preset ("fido", "fido-sdr", "bbmp") overridden by `j`; unknown keys throw.
  static FidoOptions from_json(const nlohmann::json& j, const std::string& preset);
};

class Fido : public Method {
 public:
  Fido(std::string preset, FidoOptions options);
  std::string name() const override { return preset_; }
  nlohmann::json config() const override;
  /// Result::saliency [N, 1, H, W] in [0, 1] (SSR: keep probability, SDR: drop probability;
  /// higher = more important to the decision for request.targets), Result::infilled (x under
  /// the final hard mask, in-filled), traces of the loss and the mean p_c of the samples.
  Result run(const Request& request) override;
  /// Every draw (Concrete noise, stochastic in-fills) comes from a generator of the run's own.
  bool concurrent_runs() const override { return true; }

 private:
  std::string preset_;
  FidoOptions options_;
};

/// The class score FIDO keeps (SSR) or destroys (SDR), per row: "log-odds" s_c = logit_c −
/// logsumexp_{c'≠c} logit_c' (= log p_c − log(1 − p_c), computed without forming 1 − p_c), or
/// "log-prob" log p_c. logits [n, K], targets [n] -> [n]. Throws cfx::Error for another name.
torch::Tensor fido_class_score(const torch::Tensor& logits, const torch::Tensor& targets,
                               const std::string& score);

/// The in-filler checkpoint to use: `explicit_path` if set, else "<dataset>-inpainter.pt"
/// beside the classifier file (the shipped models live together). Throws cfx::Error saying
/// how to provide one when there is none.
std::string resolve_inpainter_path(const std::string& explicit_path, const Classifier& F);

}  // namespace cfx
