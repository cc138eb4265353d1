// The method contract: every method takes a Request (one batch, a target per item) and
// returns a Result. Methods are created by name from the registry (registry.h).
#pragma once

#include <torch/types.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/models/classifier.h"

namespace cfx {

/// Called after every optimisation step: (step, max_steps, items still running).
using ProgressFn = std::function<void(int64_t step, int64_t max_steps, int64_t active)>;

struct Request {
  std::shared_ptr<Classifier> classifier;  // the model being explained
  torch::Tensor images;                    // [N, C, H, W] float32 in [0, 1]
  torch::Tensor targets;                   // [N] int64, target class per item
  uint64_t seed = 0;                       // seeds every random choice of the method
  torch::Device device = torch::kCPU;      // where the optimisation runs
  ProgressFn progress;                     // optional

  /// Throws cfx::Error if images/targets do not fit the classifier.
  void validate() const;
};

/// Latent-space methods (METHODS.md §3): one contrastive counterfactual per attribute, made by
/// turning the attribute on (if the attribute classifier sees it off) or off (if on).
struct AttributeEdits {
  std::vector<std::string> names;  // K attribute names
  torch::Tensor before;            // [N, K] the attribute classifier's probabilities on G(w0)
  torch::Tensor direction;         // [N, K] int64: +1 if edit k turns attribute k on, −1 off
  torch::Tensor after;             // [N, K] its probability of attribute k on edit k
  torch::Tensor images;            // [N, K, C, H, W] edit k of each item
  torch::Tensor classes;           // [N, K] int64: the classifier's decision on edit k
  torch::Tensor target_prob;       // [N, K] the classifier's p_target on edit k
  torch::Tensor chosen;            // [N] int64: the edit returned as the counterfactual
  torch::Tensor base_class;        // [N] int64: the classifier's decision on G(w0)
  torch::Tensor base_target_prob;  // [N] its p_target on G(w0)
  torch::Tensor route;             // [N] int64: how the counterfactual reached the target
                                   // (LatentRoute: 0 edit, 1 request, 2 latent, 3 none)
  torch::Tensor request;           // [N, K] float in [−1, 1]: the request t of the
                                   // counterfactual (a single edit: ±1 at its attribute)
  bool defined() const { return images.defined(); }
};

/// AIP (METHODS.md §4): the attributes the counterfactual needed, as the attribute classifier
/// D saw them in x and as the search left them.
struct AttributeShift {
  std::vector<std::string> names;  // K attribute names
  torch::Tensor before;            // [N, K] a0 = D(x), in [0, 1]
  torch::Tensor after;             // [N, K] the optimised attributes a*, in [0, 1]
  torch::Tensor read;              // [N, K] D(x̄): what D reads in the counterfactual, which
                                   // an entangled generator can make differ from a*
  torch::Tensor base_class;        // [N] int64: the classifier's decision on the
                                   // reconstruction G(E(x), a0), before any search
  torch::Tensor base_target_prob;  // [N] its p_target there
  bool defined() const { return after.defined(); }
};

struct Result {
  torch::Tensor counterfactuals;  // [N, C, H, W] in [0, 1] on CPU; undefined for saliency methods
  torch::Tensor saliency;         // [N, 1, H, W] on CPU, higher = more important to the
                                  // decision; undefined for counterfactual methods
  torch::Tensor infilled;         // [N, C, H, W]: x with its salient (SDR) or non-salient
                                  // (SSR) region in-filled; saliency methods that in-fill
  torch::Tensor steps;            // [N] int64: optimisation steps each item took
  torch::Tensor converged;        // [N] bool: the item met its stopping criterion
  torch::Tensor stage_images;     // [N, S, C, H, W]: x̄ as each progressive stage was reached
  torch::Tensor prior_psnr;       // [N] float: PSNR (dB) of the fitted image prior against x
  torch::Tensor reconstruction;   // [N, C, H, W]: G(w0), a generator's own rendering of x
  torch::Tensor reconstruction_error;  // [N]: mean squared error per pixel of G(w0) against x
  AttributeEdits edits;                // latent-space methods only
  AttributeShift attribute_shift;      // AIP only
  std::vector<std::vector<float>> target_prob_trace;  // per item: p_target after each step
  std::vector<std::vector<float>> loss_trace;         // per item: loss at each step
  double seconds = 0;                                 // wall time of run()

  /// Every per-item tensor above (items along dim 0), by the name batch files store it
  /// under. Batching (explain()) joins them and resuming (BatchFiles) stores them through
  /// this one list: a new per-item output is a member and a line in method.cpp.
  std::vector<std::pair<const char*, torch::Tensor*>> item_tensors();
  std::vector<std::pair<const char*, const torch::Tensor*>> item_tensors() const;
};

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;
  /// {"method": name, "options": {...every option...}}: enough to repeat the run exactly.
  virtual nlohmann::json config() const = 0;
  virtual Result run(const Request& request) = 0;
  /// Whether run() follows the gradient of the classifier's logits in its input (false:
  /// the method only reads the classifier's decisions, and works on a model that passes no
  /// gradient).
  virtual bool needs_input_gradient() const { return true; }
  /// Whether run() may be called on several requests at once from different threads: it
  /// keeps no state between runs that it does not guard, draws its randomness from its own
  /// generator seeded with request.seed (not torch's global one, which seed_all() resets),
  /// and does not move or change the classifier. explain() then runs batches side by side on
  /// the CPU (eval/explain.h).
  virtual bool concurrent_runs() const { return false; }
};

}  // namespace cfx
