#include "cfx/core/tensor.h"

#include <algorithm>
#include <cmath>

#include "cfx/core/error.h"

namespace cfx {
namespace {

// |t[i+1] - t[i]| along dimension d: the neighbour differences both image priors below read.
torch::Tensor neighbour_difference(const torch::Tensor& t, int64_t d) {
  return (t.slice(d, 1) - t.slice(d, 0, -1)).abs();
}

// A Gaussian's kernel radius: ⌈3σ⌉ taps each side, at least one.
int64_t blur_radius(double sigma) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma)));
}

// Replicate-pads x [B, G, H, W] by r and convolves its channel g with the separable kernel
// k[g] ([G, 2r + 1]) along rows, then columns: both Gaussian blurs below.
torch::Tensor separable_blur(const torch::Tensor& x, const torch::Tensor& k, int64_t r) {
  const int64_t g = x.size(1);
  auto p = torch::replication_pad2d(x, {r, r, r, r});
  std::vector<int64_t> none{0, 0}, one{1, 1};
  p = torch::conv2d(p, k.view({g, 1, 1, -1}), {}, one, none, one, g);
  return torch::conv2d(p, k.view({g, 1, -1, 1}), {}, one, none, one, g);
}

}  // namespace

torch::Tensor total_variation(const torch::Tensor& x) {
  auto dh = neighbour_difference(x, 2).flatten(1).mean(1);
  auto dw = neighbour_difference(x, 3).flatten(1).mean(1);
  return dh + dw;
}

torch::Tensor edge_difference(const torch::Tensor& y_hat, const torch::Tensor& y) {
  TORCH_CHECK(y_hat.sizes() == y.sizes() && y.dim() == 4, "edge_difference: shapes ", y_hat.sizes(),
              " and ", y.sizes(), " must be equal [n, C, H, W]");
  auto term = [&](int64_t d) {
    return (neighbour_difference(y_hat, d) - neighbour_difference(y, d)).abs().flatten(1).sum(1);
  };
  return term(2) + term(3);
}

torch::Tensor normalize_channels(const torch::Tensor& x, const std::vector<double>& mean,
                                 const std::vector<double>& std) {
  if (mean.empty() && std.empty()) return x;
  int64_t c = x.size(1);
  auto vec = [&](const std::vector<double>& v, double fallback) {
    auto t =
        v.empty() ? torch::full({1}, fallback, torch::kDouble) : torch::tensor(v, torch::kDouble);
    return t.to(x.options()).expand({c}).reshape({1, c, 1, 1});
  };
  return (x - vec(mean, 0.0)) / vec(std, 1.0);
}

torch::Tensor to_host_rows(const std::vector<torch::Tensor>& rows) {
  std::vector<torch::Tensor> same;
  for (const auto& r : rows) same.push_back(r.detach().to(rows.front().scalar_type()));
  return torch::stack(same).cpu();
}

std::pair<torch::Tensor, torch::Tensor> rows_to_keep(const torch::Tensor& stop,
                                                     const torch::Tensor& like) {
  auto rows = (~stop).nonzero().flatten().to(like.device());
  return {rows, torch::zeros_like(like).index_fill_(0, rows, 1.0)};
}

torch::Tensor gaussian_blur(const torch::Tensor& x, double sigma) {
  CFX_CHECK(x.dim() == 4 && sigma > 0 && std::isfinite(sigma), "gaussian_blur: images ", x.sizes(),
            ", sigma ", sigma, " (need [N, C, H, W] and sigma > 0)");
  const int64_t r = blur_radius(sigma);
  auto k = torch::arange(-r, r + 1, x.options()).pow(2).div(-2 * sigma * sigma).exp();
  k = k / k.sum();
  return separable_blur(x, k.view({1, -1}).repeat({x.size(1), 1}), r);
}

torch::Tensor gaussian_blur(const torch::Tensor& x, const torch::Tensor& sigma) {
  CFX_CHECK(x.dim() == 4 && sigma.dim() == 1 && sigma.size(0) == x.size(0),
            "gaussian_blur: images ", x.sizes(), ", sigmas ", sigma.sizes(),
            " (need [N, C, H, W] and [N])");
  const double largest = x.size(0) == 0 ? 0.0 : sigma.max().item<double>();
  CFX_CHECK(std::isfinite(largest) && sigma.min().item<double>() >= 0,
            "gaussian_blur: sigmas must be finite and >= 0");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t r = blur_radius(largest);
  // σ = 0 → a tiny σ, whose kernel underflows to 1 at the centre and 0 elsewhere: the item
  // comes back unchanged.
  auto s2 = sigma.to(x.options()).clamp_min(1e-6).pow(2).view({n, 1});
  auto k = torch::arange(-r, r + 1, x.options()).pow(2).view({1, -1}).div(-2 * s2).exp();
  k = (k / k.sum(1, true)).repeat_interleave(c, 0);  // [N·C, 2r + 1], channel-major per item
  // Every (item, channel) its own group: one grouped convolution per direction for the batch.
  return separable_blur(x.reshape({1, n * c, h, w}), k, r).view({n, c, h, w});
}

torch::Tensor box_average_logits(const torch::Tensor& l, int64_t s) {
  CFX_CHECK(l.dim() == 4 && s >= 1 && l.size(2) % s == 0 && l.size(3) % s == 0,
            "box_average_logits: logits ", l.sizes(), " do not tile into ", s, "x", s, " blocks");
  if (s == 1) return l;
  const auto n = l.size(0), c = l.size(1), h = l.size(2) / s, w = l.size(3) / s;
  auto log_mean = [&](const torch::Tensor& t) {  // log of the block mean of σ(t), less log s²
    return torch::logsumexp(torch::log_sigmoid(t).reshape({n, c, h, s, w, s}), {3, 5});
  };
  return log_mean(l) - log_mean(-l);  // log p − log(1 − p): the log s² cancels
}

}  // namespace cfx
