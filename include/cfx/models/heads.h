// Auxiliary heads of zoo classifiers (METHODS.md §1, manifold consistency). Both sit on the
// network's penultimate embedding f(x), beside the ordinary linear class head, and are
// trained jointly with cross-entropy (train.cpp):
//
// - DUQ (van Amersfoort et al. 2020, "Uncertainty Estimation Using a Single Deep
//   Deterministic Neural Network"): per class c a projection W_c and a centroid e_c;
//   K_c(x) = exp(-mean((W_c f(x) - e_c)^2) / (2 sigma^2)) is high only near the class's
//   training data.
// - Loss estimator ("learning loss", Yoo & Kweon 2019, as used by DIP counterfactuals): the
//   loss prediction module reads the network's intermediate (convolutional) features, each
//   globally average-pooled and passed through its own linear layer + ReLU, concatenated and
//   mapped to one number; trained to rank items by the classifier's own per-sample
//   cross-entropy; low s means "looks like inputs the classifier gets right".
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <vector>

namespace cfx {

class DuqHeadImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kCentroidDim = 64;  // size of the projected space W_c f(x)
  static constexpr double kSigma = 0.1;        // RBF length scale

  DuqHeadImpl(int64_t embedding_dim, int64_t num_classes);

  /// f: [N, E] -> kernel values K [N, num_classes] in (0, 1].
  torch::Tensor forward(const torch::Tensor& f);
  /// f: [N, E] -> d = mean((W_c f - e_c)^2) / (2 sigma^2) [N, num_classes] = -log K, which
  /// training uses for a BCE that does not saturate when K underflows.
  torch::Tensor distances(const torch::Tensor& f);
  /// EMA update of the centroids from a batch's embeddings f [N, E] and labels y [N]
  /// (no gradient): N_c <- g N_c + (1-g) n_c, m_c <- g m_c + (1-g) sum_{y_i=c} W_c f_i,
  /// with g = gamma (TrainOptions::duq_gamma, 0.999 as in the paper).
  void update_centroids(const torch::Tensor& f, const torch::Tensor& y, double gamma);
  /// Current centroids e_c = m_c / N_c, [num_classes, kCentroidDim].
  torch::Tensor centroids() const;

 private:
  torch::Tensor weight_;  // [C, D, E] per-class projections (parameter)
  torch::Tensor count_;   // [C] EMA of per-class counts N_c (buffer)
  torch::Tensor sum_;     // [C, D] EMA of per-class projected sums m_c (buffer)
};
TORCH_MODULE(DuqHead);

class LossHeadImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kHidden = 64;  // units of each feature's branch

  /// One branch per feature; `channels[i]` is the channel count of feature i.
  explicit LossHeadImpl(std::vector<int64_t> channels);
  /// features[i]: [N, C_i, H_i, W_i] (average-pooled) or [N, C_i] -> predicted loss s [N] >= 0
  /// (softplus, so it reads like a loss and cannot be driven to -infinity by an optimiser
  /// using it as a penalty).
  torch::Tensor forward(const std::vector<torch::Tensor>& features);

 private:
  std::vector<torch::nn::Linear> branches_;
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(LossHead);

/// DUQ's BCE(one-hot(y), K) from distances d = -log K ([N, C]) and labels y [N], computed in
/// log space; mean over items and classes as in the paper.
torch::Tensor duq_bce(const torch::Tensor& d, const torch::Tensor& y);

/// DUQ's two-sided gradient penalty mean_i (||grad_x sum_c K_c(x_i)||_2 - 1)^2. `x` is the
/// (normalised) input that produced K and must require grad; keeps the graph for backward.
torch::Tensor duq_gradient_penalty(const torch::Tensor& K, const torch::Tensor& x);

/// Loss-estimator objective: pairs (i, perm(i)) of a random permutation of the batch,
/// mean max(0, -sign(l_i - l_j)(s_i - s_j) + margin), plus mse_weight * MSE(s, l).
/// `losses` are the classifier's per-sample losses (detached here).
torch::Tensor loss_head_objective(const torch::Tensor& s, const torch::Tensor& losses,
                                  double margin, double mse_weight);

/// Spearman rank correlation of two equally sized tensors (ties broken by order), used to
/// report how well the loss estimator ranks items.
double rank_correlation(const torch::Tensor& a, const torch::Tensor& b);

/// Area under the ROC curve of a score that should be higher on `positive` [P] than on
/// `negative` [M] items: the Mann-Whitney probability P(s_pos > s_neg) + P(tie) / 2. Used to
/// report how well DUQ's certainty tells correct from wrong decisions and data from
/// out-of-distribution images. Throws cfx::Error when either side is empty.
double auroc(const torch::Tensor& positive, const torch::Tensor& negative);

}  // namespace cfx
