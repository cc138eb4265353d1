#include "cfx/models/heads.h"

#include <torch/nn.h>

#include <cmath>

#include "cfx/core/error.h"

namespace cfx {

DuqHeadImpl::DuqHeadImpl(int64_t embedding_dim, int64_t num_classes) {
  // Small projections (std 0.1/sqrt(E), not the reference code's Kaiming init), so that the
  // kernel distances start O(1) on the embedding of a trained network: Kaiming-scale ones
  // give distances in the hundreds, whose BCE gradients swamp the cross-entropy and wreck a
  // pretrained backbone (seen: 93% -> 75% test accuracy after one fine-tuning epoch).
  weight_ = register_parameter("weight", torch::randn({num_classes, kCentroidDim, embedding_dim}) *
                                             (0.1 / std::sqrt(static_cast<double>(embedding_dim))));
  // N_c starts near a batch's expected per-class count (the paper uses 13 for batch 128 of
  // 10 classes), so e_c = m_c / N_c is not distorted while the EMA warms up. Centroids start
  // at unit scale (10 sigma), not the reference code's 0.05: with centroids near the origin,
  // an input whose embedding collapses (a constant image) projects near every centroid and
  // gets K ~ 0.9 for all classes; far from the origin, W_c must map only class c there.
  count_ = register_buffer("count", torch::full({num_classes}, 13.0));
  sum_ = register_buffer("sum", torch::randn({num_classes, kCentroidDim}) * 13.0);
}

torch::Tensor DuqHeadImpl::distances(const torch::Tensor& f) {
  // z[n, c, d] = sum_e W[c, d, e] f[n, e]
  auto z = torch::einsum("ne,cde->ncd", {f, weight_});
  auto e = centroids().unsqueeze(0);  // [1, C, D]
  return (z - e).pow(2).mean(2) / (2 * kSigma * kSigma);
}

torch::Tensor DuqHeadImpl::forward(const torch::Tensor& f) { return torch::exp(-distances(f)); }

torch::Tensor DuqHeadImpl::centroids() const { return sum_ / count_.unsqueeze(1); }

void DuqHeadImpl::update_centroids(const torch::Tensor& f, const torch::Tensor& y, double gamma) {
  CFX_CHECK(gamma > 0 && gamma < 1, "invalid DUQ centroid decay gamma: ", gamma, " (use (0, 1))");
  torch::NoGradGuard no_grad;
  auto onehot = torch::one_hot(y.to(torch::kLong), count_.size(0)).to(f.dtype());  // [N, C]
  auto z = torch::einsum("ne,cde->ncd", {f.detach(), weight_});                    // [N, C, D]
  auto class_sums = torch::einsum("ncd,nc->cd", {z, onehot});                      // [C, D]
  count_.mul_(gamma).add_(onehot.sum(0), 1 - gamma);
  sum_.mul_(gamma).add_(class_sums, 1 - gamma);
}

LossHeadImpl::LossHeadImpl(std::vector<int64_t> channels) {
  CFX_ASSERT(!channels.empty());
  for (size_t i = 0; i < channels.size(); ++i)
    branches_.push_back(
        register_module("branch" + std::to_string(i), torch::nn::Linear(channels[i], kHidden)));
  out_ =
      register_module("out", torch::nn::Linear(kHidden * static_cast<int64_t>(channels.size()), 1));
}

torch::Tensor LossHeadImpl::forward(const std::vector<torch::Tensor>& features) {
  CFX_ASSERT(features.size() == branches_.size());
  std::vector<torch::Tensor> parts;
  for (size_t i = 0; i < features.size(); ++i) {
    // Global average pooling, as in the loss prediction module: the branch sees what each
    // stage detects, not where.
    auto f = features[i].dim() == 4 ? features[i].mean({2, 3}) : features[i];
    parts.push_back(torch::relu(branches_[i]->forward(f)));
  }
  return torch::softplus(out_->forward(torch::cat(parts, 1))).squeeze(1);
}

torch::Tensor duq_bce(const torch::Tensor& d, const torch::Tensor& y) {
  auto onehot = torch::one_hot(y.to(torch::kLong), d.size(1)).to(d.dtype());
  // log K = -d exactly; log(1 - K) = log(-expm1(-d)), clamped where K -> 1.
  auto log_1mk = torch::log((-torch::expm1(-d)).clamp_min(1e-7));
  return -(onehot * -d + (1 - onehot) * log_1mk).mean();
}

torch::Tensor duq_gradient_penalty(const torch::Tensor& K, const torch::Tensor& x) {
  auto g = torch::autograd::grad({K.sum()}, {x}, {}, /*retain_graph=*/true,
                                 /*create_graph=*/true)[0];
  // sqrt with a floor instead of norm(): finite second derivative at a zero gradient.
  auto norm = (g.flatten(1).pow(2).sum(1) + 1e-12).sqrt();
  return (norm - 1).pow(2).mean();
}

torch::Tensor loss_head_objective(const torch::Tensor& s, const torch::Tensor& losses,
                                  double margin, double mse_weight) {
  auto l = losses.detach();
  auto perm = torch::randperm(s.size(0), torch::TensorOptions(torch::kLong).device(s.device()));
  auto sign = torch::sign(l - l.index_select(0, perm));
  // Pairs with equal losses (including i paired with itself) carry no ranking signal.
  auto rank = torch::relu(-sign * (s - s.index_select(0, perm)) + margin) * sign.abs();
  auto pairs = sign.abs().sum().clamp_min(1);
  return rank.sum() / pairs + mse_weight * torch::mse_loss(s, l);
}

double rank_correlation(const torch::Tensor& a, const torch::Tensor& b) {
  CFX_CHECK(a.numel() == b.numel() && a.numel() >= 2, "rank_correlation needs two tensors of ",
            "equal size >= 2, got ", a.numel(), " and ", b.numel());
  auto ranks = [](const torch::Tensor& t) {
    return t.flatten().to(torch::kDouble).argsort().argsort().to(torch::kDouble);
  };
  auto ra = ranks(a), rb = ranks(b);
  ra = ra - ra.mean();
  rb = rb - rb.mean();
  double den = std::sqrt((ra * ra).sum().item<double>() * (rb * rb).sum().item<double>());
  return den > 0 ? (ra * rb).sum().item<double>() / den : 0.0;
}

double auroc(const torch::Tensor& positive, const torch::Tensor& negative) {
  CFX_CHECK(positive.numel() > 0 && negative.numel() > 0, "auroc needs items on both sides, got ",
            positive.numel(), " positive and ", negative.numel(), " negative");
  const int64_t p = positive.numel();
  auto all = torch::cat({positive.flatten(), negative.flatten()})
                 .to(torch::kCPU, torch::kDouble)
                 .contiguous();
  auto order = all.argsort();
  auto sorted = all.index_select(0, order);
  const double* v = sorted.data_ptr<double>();
  const int64_t* idx = order.data_ptr<int64_t>();
  const int64_t n = all.numel();
  // Sum of the positives' ranks, tied values sharing their mean rank.
  double rank_sum = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j + 1 < n && v[j + 1] == v[i]) ++j;
    const double mean_rank = 0.5 * static_cast<double>(i + j) + 1;
    for (int64_t k = i; k <= j; ++k)
      if (idx[k] < p) rank_sum += mean_rank;
    i = j + 1;
  }
  const double m = static_cast<double>(n - p), pd = static_cast<double>(p);
  return (rank_sum - pd * (pd + 1) / 2) / (pd * m);
}

}  // namespace cfx
