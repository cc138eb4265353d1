#include "cfx/methods/inversion/priors.h"

#include <cmath>

#include "cfx/core/error.h"

namespace cfx {

void PriorOptions::validate() const {
  CFX_CHECK(prior == "pixel" || prior == "dip" || prior == "inr", "invalid prior: '", prior,
            "' (known: pixel, dip, inr)");
  CFX_CHECK(param == "clamp" || param == "sigmoid", "invalid param: '", param,
            "' (use clamp or sigmoid)");
  CFX_CHECK(dip_channels >= 1 && dip_channels <= 256, "invalid dip_channels: ", dip_channels);
  CFX_CHECK(dip_noise > 0 && std::isfinite(dip_noise), "invalid dip_noise: ", dip_noise,
            " (use > 0: the noise is the U-Net's only input)");
  CFX_CHECK(dip_noise_channels >= 1 && dip_noise_channels <= 64,
            "invalid dip_noise_channels: ", dip_noise_channels);
  CFX_CHECK(dip_scale >= 0 && dip_scale <= 16, "invalid dip_scale: ", dip_scale,
            " (use 1..16, or 0 for auto)");
  CFX_CHECK(inr_features >= 1 && inr_features <= 1024, "invalid inr_features: ", inr_features);
  CFX_CHECK(inr_scale > 0 && std::isfinite(inr_scale), "invalid inr_scale: ", inr_scale);
  CFX_CHECK(inr_hidden >= 4 && inr_hidden <= 1024, "invalid inr_hidden: ", inr_hidden);
}

int64_t dip_scale_for(int64_t dip_scale, int64_t height, int64_t width) {
  if (dip_scale > 0) return dip_scale;
  int64_t scale = 1;
  while (std::min(height, width) / scale >= 128) scale *= 2;
  return scale;
}

torch::Tensor psnr(const torch::Tensor& a, const torch::Tensor& b) {
  auto mse = (a - b).pow(2).flatten(1).mean(1).clamp_min(1e-10);
  return (-10.0 * torch::log10(mse)).clamp_max(100.0);
}

namespace {

class PixelPrior : public ImagePrior {
 public:
  explicit PixelPrior(std::string param) : sigmoid_(param == "sigmoid") {}
  std::vector<torch::Tensor> init(const torch::Tensor& x0, at::Generator&) override {
    constexpr double eps = 1e-3;
    return {sigmoid_ ? torch::logit(x0.clamp(eps, 1 - eps)) : x0.clone()};
  }
  torch::Tensor render(const std::vector<torch::Tensor>& p, const torch::Tensor&) override {
    return sigmoid_ ? torch::sigmoid(p[0]) : p[0];
  }
  void project(std::vector<torch::Tensor>& params) override {
    torch::NoGradGuard ng;
    if (!sigmoid_) params[0].clamp_(0, 1);
  }

 private:
  bool sigmoid_;
};

// Per-item convolution: x [n, Cin, H, W], w [n, Cout, Cin, k, k], b [n, Cout]. One grouped
// convolution runs every item's own filters in a single call.
torch::Tensor item_conv(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  const int64_t n = x.size(0), cin = x.size(1), cout = w.size(1), k = w.size(3);
  auto y =
      torch::conv2d(x.reshape({1, n * cin, x.size(2), x.size(3)}), w.reshape({n * cout, cin, k, k}),
                    b.reshape({n * cout}), {1, 1}, {k / 2, k / 2}, {1, 1}, n);
  return y.view({n, cout, x.size(2), x.size(3)});
}

// Uniform [0, 1) and standard normal draws from `gen` on the CPU, then on opt's device.
torch::Tensor uniform(at::IntArrayRef sizes, at::Generator& gen, const torch::TensorOptions& opt) {
  return torch::rand(sizes, gen, opt.device(torch::kCPU)).to(opt.device());
}
torch::Tensor normal(at::IntArrayRef sizes, at::Generator& gen, const torch::TensorOptions& opt) {
  return torch::randn(sizes, gen, opt.device(torch::kCPU)).to(opt.device());
}

// He-style initialisation for n items' 3x3 filters.
std::pair<torch::Tensor, torch::Tensor> conv_params(int64_t n, int64_t cin, int64_t cout,
                                                    at::Generator& gen,
                                                    const torch::TensorOptions& opt) {
  double bound = 1.0 / std::sqrt(static_cast<double>(cin * 9));
  auto w = (uniform({n, cout, cin, 3, 3}, gen, opt) * 2 - 1) * bound * std::sqrt(3.0);
  auto b = torch::zeros({n, cout}, opt);
  return {w, b};
}

// A two-level U-Net: [z] -> 2 convs (c) -> avg-pool -> 2 convs (2c) -> upsample, concat the
// skip -> conv (c) -> conv (C) -> sigmoid; instance norm + LeakyReLU after every hidden conv.
// At dip_scale s > 1 it renders at ceil(H/s) x ceil(W/s): on 2 cores its full-size render and
// backward were 55% of a DISC step at 224x224 (docs/performance.md). The fit then matches the
// query area-averaged to that size, and the search adds the upsampled change of the render to
// the query, so detail the small render cannot hold stays the query's.
class DipPrior : public ImagePrior {
 public:
  explicit DipPrior(const PriorOptions& o) : o_(o) {}
  bool needs_fit() const override { return true; }

  std::vector<torch::Tensor> init(const torch::Tensor& x0, at::Generator& gen) override {
    const int64_t n = x0.size(0), C = x0.size(1), c = o_.dip_channels;
    const int64_t H = x0.size(2), W = x0.size(3);
    scale_ = dip_scale_for(o_.dip_scale, H, W);
    x0_ = x0;
    auto opt = x0.options();
    z_ = normal({n, o_.dip_noise_channels, (H + scale_ - 1) / scale_, (W + scale_ - 1) / scale_},
                gen, opt) *
         o_.dip_noise;
    const int64_t shapes[6][2] = {
        {o_.dip_noise_channels, c}, {c, c}, {c, 2 * c}, {2 * c, 2 * c}, {3 * c, c}, {c, C}};
    std::vector<torch::Tensor> p;
    for (auto& s : shapes) {
      auto [w, b] = conv_params(n, s[0], s[1], gen, opt);
      p.push_back(w);
      p.push_back(b);
    }
    return p;
  }

  torch::Tensor fit_render(const std::vector<torch::Tensor>& p, const torch::Tensor& idx) override {
    return unet(p, idx);
  }
  torch::Tensor fit_target(const torch::Tensor& x0) override {
    if (scale_ == 1) return x0;
    return torch::adaptive_avg_pool2d(x0, {z_.size(2), z_.size(3)});
  }
  void fitted(const std::vector<torch::Tensor>& p) override {
    if (scale_ == 1) return;
    torch::NoGradGuard ng;
    auto all =
        torch::arange(x0_.size(0), torch::TensorOptions().dtype(torch::kLong).device(x0_.device()));
    residual_ = x0_ - upsample(unet(p, all));
  }

  torch::Tensor render(const std::vector<torch::Tensor>& p, const torch::Tensor& idx) override {
    if (scale_ == 1) return unet(p, idx);
    CFX_ASSERT(residual_.defined());
    return (upsample(unet(p, idx)) + residual_.index_select(0, idx)).clamp(0, 1);
  }

 private:
  torch::Tensor upsample(const torch::Tensor& g) const {
    return torch::upsample_bilinear2d(g, {x0_.size(2), x0_.size(3)}, /*align_corners=*/false);
  }

  torch::Tensor unet(const std::vector<torch::Tensor>& p, const torch::Tensor& idx) const {
    // Instance normalisation (each item, each channel, over its own pixels) keeps the fit
    // well conditioned without coupling items the way batch norm would.
    auto act = [](const torch::Tensor& t) {
      auto mu = t.mean({2, 3}, true);
      auto var = (t - mu).pow(2).mean({2, 3}, true);
      return torch::leaky_relu((t - mu) / (var + 1e-5).sqrt(), 0.2);
    };
    auto z = z_.index_select(0, idx);
    auto h1 = act(item_conv(act(item_conv(z, p[0], p[1])), p[2], p[3]));
    auto h2 = torch::avg_pool2d(h1, 2, 2, 0, /*ceil_mode=*/true);
    h2 = act(item_conv(act(item_conv(h2, p[4], p[5])), p[6], p[7]));
    auto up = torch::upsample_nearest2d(h2, {h1.size(2), h1.size(3)});
    auto h = act(item_conv(torch::cat({h1, up}, 1), p[8], p[9]));
    return torch::sigmoid(item_conv(h, p[10], p[11]));
  }

  PriorOptions o_;
  int64_t scale_ = 1;
  torch::Tensor x0_;        // [N, C, H, W] the queries
  torch::Tensor z_;         // [N, Cz, ceil(H/s), ceil(W/s)] fixed noise input
  torch::Tensor residual_;  // [N, C, H, W] x0 - up(g_θ₀(z)), at dip_scale > 1 after the fit
};

// x̄(u, v) = W3 σ(W2 σ(W1 γ(u, v))), γ = [sin 2πBu, cos 2πBu]; B ~ N(0, scale²), shared by all
// items (drawn once), the MLP weights are per item (batched matmuls).
class InrPrior : public ImagePrior {
 public:
  explicit InrPrior(const PriorOptions& o) : o_(o) {}
  bool needs_fit() const override { return true; }

  std::vector<torch::Tensor> init(const torch::Tensor& x0, at::Generator& gen) override {
    const int64_t n = x0.size(0), C = x0.size(1), H = x0.size(2), W = x0.size(3);
    auto opt = x0.options();
    C_ = C, H_ = H, W_ = W;
    auto ys = torch::linspace(0, 1, H, opt), xs = torch::linspace(0, 1, W, opt);
    auto grid = torch::stack(torch::meshgrid({ys, xs}, "ij"), -1).view({H * W, 2});
    auto B = normal({2, o_.inr_features}, gen, opt) * o_.inr_scale;
    auto proj = 2 * M_PI * grid.matmul(B);
    feats_ = torch::cat({proj.sin(), proj.cos()}, 1);  // [HW, 2F]
    const int64_t f = 2 * o_.inr_features, h = o_.inr_hidden;
    auto layer = [&](int64_t in, int64_t out) {
      double bound = std::sqrt(6.0 / static_cast<double>(in));
      return std::make_pair((uniform({n, in, out}, gen, opt) * 2 - 1) * bound,
                            torch::zeros({n, 1, out}, opt));
    };
    auto [w1, b1] = layer(f, h);
    auto [w2, b2] = layer(h, h);
    auto [w3, b3] = layer(h, C);
    return {w1, b1, w2, b2, w3, b3};
  }

  torch::Tensor render(const std::vector<torch::Tensor>& p, const torch::Tensor& idx) override {
    const int64_t n = idx.size(0);
    auto f = feats_.unsqueeze(0).expand({n, feats_.size(0), feats_.size(1)});
    auto h = torch::relu(torch::baddbmm(p[1], f, p[0]));
    h = torch::relu(torch::baddbmm(p[3], h, p[2]));
    auto out = torch::sigmoid(torch::baddbmm(p[5], h, p[4]));  // [n, HW, C]
    return out.permute({0, 2, 1}).reshape({n, C_, H_, W_});
  }

 private:
  PriorOptions o_;
  torch::Tensor feats_;  // [HW, 2F]
  int64_t C_ = 0, H_ = 0, W_ = 0;
};

}  // namespace

std::unique_ptr<ImagePrior> make_prior(const PriorOptions& o) {
  o.validate();
  if (o.prior == "pixel") return std::make_unique<PixelPrior>(o.param);
  if (o.prior == "dip") return std::make_unique<DipPrior>(o);
  return std::make_unique<InrPrior>(o);
}

}  // namespace cfx
