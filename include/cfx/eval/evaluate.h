// The benchmark runner behind `cfx eval`: the same items and targets for every method, every
// counterfactual metric of METHODS.md §5 that applies, mean and 95% interval per metric.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/eval/explain.h"
#include "cfx/models/autoencoder.h"

namespace cfx {

struct EvalOptions {
  std::vector<std::string> methods;    // registry names, run in this order
  nlohmann::json method_options;       // method name -> its options object (may be absent)
  int64_t batch_size = 64;             // items optimised together
  std::shared_ptr<Classifier> oracle;  // independent classifier for oracle validity, or null
  std::shared_ptr<ClassAutoencoders> autoencoders;  // for IM1/IM2, or null
  torch::Tensor surrogate_heldout;  // [M, C, H, W] real images: if defined, train surrogates
  uint64_t surrogate_seed = 0;      // seed of the surrogate classifiers
  // Saliency methods:
  torch::Tensor saliency_targets;          // [N] class each map explains (default: predicted)
  torch::Tensor masks;                     // [N, 1, H, W] object masks: pointing game, IoU
  std::shared_ptr<Classifier> randomized;  // weight-randomised copy: sanity check, or null
  int64_t curve_steps = 28;                // deletion/insertion curve steps
};

struct MethodEvaluation {
  std::string method;
  Explanation explanation;
  std::map<std::string, torch::Tensor> per_item;  // metric -> [N] float32 (CPU)
  std::map<std::string, torch::Tensor> curves;    // e.g. "deletion_curve" -> [N, K+1] (CPU)
  nlohmann::json summary;  // metric -> {"mean", "lo", "hi", "n"}; plus surrogate numbers
};

/// Mean and normal-approximation 95% interval of v ([N]) as {"mean", "lo", "hi", "n"}.
nlohmann::json mean_ci(const torch::Tensor& v);

/// Runs every method of `options` on `request` (images, targets, seed, device) and scores it:
/// counterfactual methods against request.targets, saliency methods with the saliency metrics
/// for options.saliency_targets (the predicted class when undefined).
std::vector<MethodEvaluation> evaluate(const Request& request, const EvalOptions& options);

/// Fraction of `heldout` images on which a small cnn trained on `train_images` (labelled by
/// F's decisions) agrees with F: how much of F's decision boundary the images teach.
double surrogate_agreement(Classifier& F, const torch::Tensor& train_images,
                           const torch::Tensor& heldout, uint64_t seed);

}  // namespace cfx
