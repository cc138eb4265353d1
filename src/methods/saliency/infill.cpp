#include "cfx/methods/saliency/infill.h"

#include <cmath>

#include "cfx/core/error.h"
#include "cfx/core/surface.h"
#include "cfx/core/tensor.h"
#include "cfx/methods/options.h"
#include "cfx/models/inpainter.h"

using nlohmann::json;

namespace cfx {

void InfillOptions::validate() const {
  CFX_CHECK(blur_sigma > 0 && blur_sigma <= 100, "invalid blur_sigma: ", blur_sigma,
            " (use (0, 100] pixels)");
  CFX_CHECK(local_window >= 3 && local_window % 2 == 1 && local_window <= 101,
            "invalid local_window: ", local_window, " (use an odd size from 3 to 101)");
  CFX_CHECK(random_noise >= 0 && random_noise <= 1, "invalid random_noise: ", random_noise,
            " (use [0, 1])");
}

json InfillOptions::to_json() const {
  return {{"blur_sigma", blur_sigma},
          {"local_window", local_window},
          {"random_noise", random_noise},
          {"inpainter", inpainter}};
}

void InfillOptions::read(const json& j) {
  read_option(j, "blur_sigma", blur_sigma);
  read_option(j, "local_window", local_window);
  read_option(j, "random_noise", random_noise);
  read_option(j, "inpainter", inpainter);
}

void check_infiller_name(const std::string& name) {
  std::string known;
  for (const auto& n : infiller_names()) {
    if (n == name) return;
    known += (known.empty() ? "" : ", ") + n;
  }
  fail("invalid infill: '", name, "' (use one of ", known, ")");
}

namespace {

// Per image and channel, the mean of the known pixels (0.5 where none is known).
torch::Tensor known_mean(const torch::Tensor& x, const torch::Tensor& keep) {
  auto s = (x * keep).sum({2, 3}, true);
  auto n = keep.sum({2, 3}, true);
  return torch::where(n > 0, s / n.clamp_min(1), torch::full_like(s, 0.5));
}

class MeanInfill : public Infiller {
 public:
  std::string name() const override { return "mean"; }
  torch::Tensor infill(const torch::Tensor& x, const torch::Tensor& keep) override {
    torch::NoGradGuard ng;
    return x.mean({2, 3}, true).expand_as(x).clone();
  }
};

class BlurInfill : public Infiller {
 public:
  explicit BlurInfill(double sigma) : sigma_(sigma) {}
  std::string name() const override { return "blur"; }
  torch::Tensor infill(const torch::Tensor& x, const torch::Tensor&) override {
    torch::NoGradGuard ng;
    return gaussian_blur(x, sigma_);
  }

 private:
  double sigma_;
};

class RandomInfill : public Infiller {
 public:
  explicit RandomInfill(double noise) : noise_(noise) {}
  std::string name() const override { return "random"; }
  torch::Tensor infill(const torch::Tensor& x, const torch::Tensor&) override {
    torch::NoGradGuard ng;
    auto colour = torch::rand({x.size(0), x.size(1), 1, 1}, x.options());
    return (colour + noise_ * torch::randn_like(x)).clamp(0, 1);
  }
  // A colour per channel and a value per pixel.
  int64_t noise_dim(int64_t channels, int64_t height, int64_t width) const override {
    return channels * (1 + height * width);
  }
  /// The same draw as infill(), from the caller's noise: the colour is Φ of the first C
  /// normals (uniform on [0, 1]), the rest is the per-pixel noise.
  torch::Tensor sample(const torch::Tensor& x, const torch::Tensor&,
                       const torch::Tensor& noise) override {
    torch::NoGradGuard ng;
    const int64_t N = x.size(0), C = x.size(1);
    CFX_CHECK(noise.dim() == 2 && noise.size(0) == N &&
                  noise.size(1) == noise_dim(C, x.size(2), x.size(3)),
              "random in-fill: noise must be [", N, ", ", noise_dim(C, x.size(2), x.size(3)),
              "], got ", noise.sizes());
    auto colour =
        (0.5 * (1 + torch::erf(noise.slice(1, 0, C) / std::sqrt(2.0)))).view({N, C, 1, 1});
    return (colour + noise_ * noise.slice(1, C).reshape(x.sizes())).clamp(0, 1);
  }

 private:
  double noise_;
};

class LocalInfill : public Infiller {
 public:
  explicit LocalInfill(int64_t window) : window_(window) {}
  std::string name() const override { return "local"; }
  torch::Tensor infill(const torch::Tensor& x, const torch::Tensor& keep) override {
    torch::NoGradGuard ng;
    const int64_t k = window_;
    // Both averages share the divisor k², so their ratio is the mean of the known pixels.
    auto num = torch::avg_pool2d(x * keep, {k, k}, {1, 1}, {k / 2, k / 2});
    auto den = torch::avg_pool2d(keep, {k, k}, {1, 1}, {k / 2, k / 2});
    auto fallback = known_mean(x, keep).expand_as(x);
    return torch::where(den.expand_as(x) > 1e-6, num / den.clamp_min(1e-6), fallback);
  }

 private:
  int64_t window_;
};

class InpainterInfill : public Infiller {
 public:
  explicit InpainterInfill(std::shared_ptr<Inpainter> net) : net_(std::move(net)) {}
  std::string name() const override { return "inpainter"; }
  torch::Tensor infill(const torch::Tensor& x, const torch::Tensor& keep) override {
    torch::NoGradGuard ng;
    net_->to(x.device());
    return net_->paint(x, keep);
  }
  int64_t noise_dim(int64_t, int64_t, int64_t) const override { return net_->options().latent; }
  torch::Tensor sample(const torch::Tensor& x, const torch::Tensor& keep,
                       const torch::Tensor& noise) override {
    torch::NoGradGuard ng;
    net_->to(x.device());
    return net_->paint(x, keep, noise);
  }

 private:
  std::shared_ptr<Inpainter> net_;
};

}  // namespace

std::vector<std::string> infiller_names() {
  return {"mean", "blur", "random", "local", "inpainter"};
}

std::unique_ptr<Infiller> make_infiller(const std::string& name, const InfillOptions& o,
                                        torch::Device device) {
  o.validate();
  if (name == "mean") return std::make_unique<MeanInfill>();
  if (name == "blur") return std::make_unique<BlurInfill>(o.blur_sigma);
  if (name == "random") return std::make_unique<RandomInfill>(o.random_noise);
  if (name == "local") return std::make_unique<LocalInfill>(o.local_window);
  if (name == "inpainter") {
    CFX_CHECK(!o.inpainter.empty(),
              "the inpainter in-filler needs a checkpoint (option inpainter=PATH; make one "
              "with ",
              train_call("inpainter", {}), ")");
    auto net = Inpainter::load(o.inpainter);
    net->to(device);
    return make_inpainter_infiller(std::move(net));
  }
  check_infiller_name(name);
  fail("in-filler '", name, "' has no factory");  // a name listed but not built above
}

std::unique_ptr<Infiller> make_inpainter_infiller(std::shared_ptr<Inpainter> inpainter) {
  CFX_CHECK(inpainter != nullptr, "no inpainter given");
  return std::make_unique<InpainterInfill>(std::move(inpainter));
}

torch::Tensor composite(Infiller& infiller, const torch::Tensor& x, const torch::Tensor& keep,
                        const torch::Tensor& noise) {
  auto xhat = noise.defined() ? infiller.sample(x, keep, noise) : infiller.infill(x, keep);
  return keep * x + (1 - keep) * xhat;
}

double infill_error(Infiller& infiller, const torch::Tensor& x, const torch::Tensor& keep) {
  torch::NoGradGuard ng;
  double err = 0, count = 0;
  for (int64_t i = 0; i < x.size(0); i += 256) {
    int64_t j = std::min(x.size(0), i + 256);
    auto xb = x.slice(0, i, j), kb = keep.slice(0, i, j);
    auto miss = (1 - kb).expand_as(xb);
    err += ((infiller.infill(xb, kb) - xb).abs() * miss).sum().item<double>();
    count += miss.sum().item<double>();
  }
  return count > 0 ? err / count : 0.0;
}

}  // namespace cfx
