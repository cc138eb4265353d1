// The benchmark runner behind `cfx eval`: the same items and targets for every method, every
// counterfactual metric of METHODS.md §5 that applies, mean and 95% interval per metric.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/eval/explain.h"
#include "cfx/eval/fid.h"
#include "cfx/models/attributes.h"
#include "cfx/models/autoencoder.h"

namespace cfx {

struct EvalOptions {
  std::vector<std::string> methods;    // registry names, run in this order
  nlohmann::json method_options;       // method name -> its options object (may be absent)
  int64_t batch_size = 64;             // items optimised together
  int64_t batch_workers = 0;           // batches side by side (explain()'s workers; 0: one per
                                       // thread where the method allows it)
  std::shared_ptr<Classifier> oracle;  // independent classifier for oracle validity, or null
  std::shared_ptr<ClassAutoencoders> autoencoders;  // for IM1/IM2, or null
  torch::Tensor surrogate_heldout;  // [M, C, H, W] real images: if defined, train surrogates
  uint64_t surrogate_seed = 0;      // seed of the surrogate classifiers
  // Saliency methods:
  torch::Tensor saliency_targets;          // [N] class each map explains (default: predicted)
  torch::Tensor masks;                     // [N, 1, H, W] object masks: pointing game, IoU
  std::shared_ptr<Classifier> randomized;  // weight-randomised copy: sanity check, or null
  int64_t curve_steps = 28;                // deletion/insertion curve steps
  // Counterfactual methods:
  int64_t cout_steps = 50;   // steps of the COUT path from x to x̄ (0: no COUT)
  bool morphometry = false;  // digits: |change| of each morphometric attribute (morph_*)
  std::shared_ptr<AttributeClassifier> attributes;  // attribute oracle for MNAC, or null
  std::shared_ptr<Classifier> fid_network;          // independent feature network for FID, or null
  std::vector<GaussianStats> fid_reference;  // per class: real images' features (fid_class_stats)
  // Resuming (BatchFiles): with batch_root set, method M keeps its finished batches in
  // <batch_root>/<M>/batches (and the sanity run's in <M>/batches-sanity).
  std::string batch_root;  // folder of the per-method batch folders; empty: keep none
  bool resume = false;     // reuse the batches an earlier run with the same settings finished

  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
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

/// The Wilson score 95% interval of `successes` out of `n` as {"mean", "lo", "hi", "n",
/// "interval": "wilson"}: inside [0, 1] and sensible at 0/n and n/n, where the normal
/// approximation gives [1, 1] or leaves the range (20 of 20: [0.839, 1]).
nlohmann::json wilson_ci(int64_t successes, int64_t n);

/// The summary of per-item metric `key` (values v [N]): Wilson for the rates (validity,
/// oracle_validity, pointing_game, loc_error, converged), else mean_ci with its bounds cut to the
/// metric's range where it has one (probabilities, areas, AUCs, L0/L1/L2 of images in [0, 1]: [0,
/// 1]; rank correlations: [-1, 1]).
nlohmann::json metric_ci(const std::string& key, const torch::Tensor& v);

/// Per-class Gaussian statistics of `net`'s FID features (fid_feature_layer) on real `images`
/// [M, C, H, W] with true `labels` [M]: element c for class c (n = 0 where a class has fewer
/// than 2 images). The reference FID compares counterfactuals with.
std::vector<GaussianStats> fid_class_stats(Classifier& net, const torch::Tensor& images,
                                           const torch::Tensor& labels, int64_t num_classes);

/// FID of counterfactuals `xcf` against real images of their targets: the reference is the
/// mixture of `reference` (fid_class_stats) weighted by how often each class is a target.
/// Returns {"mean": FID, "lo": null, "hi": null, "n": N} like mean_ci, plus "reference_n"
/// (the real images of the target classes behind the reference). Throws cfx::Error if N < 2 or a
/// target class has no reference statistics.
nlohmann::json fid_summary(Classifier& net, const std::vector<GaussianStats>& reference,
                           const torch::Tensor& xcf, const torch::Tensor& targets);

/// Runs every method of `options` on `request` (images, targets, seed, device) and scores it:
/// counterfactual methods against request.targets, saliency methods with the saliency metrics
/// for options.saliency_targets (the predicted class when undefined).
std::vector<MethodEvaluation> evaluate(const Request& request, const EvalOptions& options);

/// Fraction of `heldout` images on which a small cnn trained on `train_images` (labelled by
/// F's decisions) agrees with F: how much of F's decision boundary the images teach.
double surrogate_agreement(Classifier& F, const torch::Tensor& train_images,
                           const torch::Tensor& heldout, uint64_t seed);

}  // namespace cfx
