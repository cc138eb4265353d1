#include "cfx/eval/fid.h"

#include <algorithm>

#include "cfx/core/error.h"

namespace cfx {

namespace {

// Symmetric PSD square root via eigendecomposition; tiny negative eigenvalues clipped.
torch::Tensor sqrtm_psd(const torch::Tensor& m) {
  auto sym = (m + m.t()) / 2;
  auto [vals, vecs] = torch::linalg_eigh(sym);
  return vecs.matmul(torch::diag(vals.clamp_min(0).sqrt())).matmul(vecs.t());
}

}  // namespace

GaussianStats gaussian_stats(const torch::Tensor& features) {
  CFX_CHECK(features.dim() == 2 && features.size(0) >= 2,
            "FID needs at least 2 feature vectors [N, D], got ", features.sizes());
  auto f = features.to(torch::kDouble).cpu();
  GaussianStats s;
  s.n = f.size(0);
  s.mean = f.mean(0);
  auto c = f - s.mean;
  s.cov = c.t().matmul(c) / static_cast<double>(s.n - 1);
  return s;
}

GaussianStats mixture_stats(const std::vector<GaussianStats>& parts,
                            const std::vector<double>& weights) {
  CFX_CHECK(!parts.empty() && parts.size() == weights.size(),
            "mixture_stats: need one weight per component");
  double total = 0;
  for (double w : weights) {
    CFX_CHECK(w >= 0, "mixture_stats: negative weight ", w);
    total += w;
  }
  CFX_CHECK(total > 0, "mixture_stats: the weights sum to 0");
  GaussianStats m;
  m.mean = torch::zeros_like(parts[0].mean);
  auto second = torch::zeros_like(parts[0].cov);  // E[x xᵀ]
  for (size_t i = 0; i < parts.size(); ++i) {
    double w = weights[i] / total;
    if (w == 0) continue;
    m.mean += w * parts[i].mean;
    second += w * (parts[i].cov + torch::outer(parts[i].mean, parts[i].mean));
    m.n += parts[i].n;
  }
  m.cov = second - torch::outer(m.mean, m.mean);
  return m;
}

double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  CFX_CHECK(a.mean.sizes() == b.mean.sizes() && a.cov.sizes() == b.cov.sizes(),
            "FID of features of different sizes: ", a.mean.sizes(), " and ", b.mean.sizes());
  auto c1 = a.cov.to(torch::kDouble), c2 = b.cov.to(torch::kDouble);
  auto r1 = sqrtm_psd(c1);
  auto cross = sqrtm_psd(r1.matmul(c2).matmul(r1));
  double d = (a.mean - b.mean).to(torch::kDouble).pow(2).sum().item<double>();
  d += (c1.trace() + c2.trace() - 2 * cross.trace()).item<double>();
  return std::max(d, 0.0);
}

std::string fid_feature_layer(Classifier& F) {
  auto layers = F.feature_layers();
  CFX_CHECK(!layers.empty(), "the FID network ", F.info().source, " exposes no feature layers");
  auto it = std::find(layers.begin(), layers.end(), "logits");
  if (it != layers.end() && it != layers.begin()) return *(it - 1);
  return layers.back();
}

torch::Tensor fid_features(Classifier& F, const torch::Tensor& images, const std::string& layer,
                           int64_t batch_size) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < images.size(0); i += batch_size) {
    auto x = images.slice(0, i, std::min(images.size(0), i + batch_size)).to(F.device());
    auto c = F.capture(x, {layer}, false);
    out.push_back(c.features.at(layer).flatten(1).to(torch::kDouble).cpu());
  }
  CFX_CHECK(!out.empty(), "FID of an empty image set");
  return torch::cat(out);
}

}  // namespace cfx
