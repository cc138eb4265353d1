#include "cfx/models/vae.h"

#include <torch/nn.h>
#include <torch/optim.h>

#include <cmath>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/core/seed.h"
#include "cfx/models/checkpoint.h"

namespace nn = torch::nn;
using nlohmann::json;

namespace cfx {

void VaeOptions::validate() const {
  CFX_CHECK(channels == 1 || channels == 3, "invalid channels: ", channels, " (use 1 or 3)");
  CFX_CHECK(height >= 8 && height % 4 == 0, "invalid height: ", height,
            " (the VAE needs a multiple of 4, at least 8)");
  CFX_CHECK(width >= 8 && width % 4 == 0, "invalid width: ", width,
            " (the VAE needs a multiple of 4, at least 8)");
  CFX_CHECK(latent >= 1 && latent <= 1024, "invalid latent size: ", latent, " (use 1 to 1024)");
  CFX_CHECK(width_mult >= 4 && width_mult <= 256, "invalid width_mult: ", width_mult,
            " (use 4 to 256)");
}

json VaeOptions::to_json() const {
  return {{"channels", channels},
          {"height", height},
          {"width", width},
          {"latent", latent},
          {"width_mult", width_mult}};
}

VaeOptions VaeOptions::from_json(const json& j) {
  VaeOptions o;
  o.channels = j.at("channels").get<int64_t>();
  o.height = j.at("height").get<int64_t>();
  o.width = j.at("width").get<int64_t>();
  o.latent = j.at("latent").get<int64_t>();
  o.width_mult = j.at("width_mult").get<int64_t>();
  return o;
}

void VaeTrainOptions::validate() const {
  CFX_CHECK(epochs >= 1 && epochs <= 10000, "invalid epochs: ", epochs);
  CFX_CHECK(batch_size >= 1, "invalid batch_size: ", batch_size);
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid learning rate: ", lr);
  CFX_CHECK(beta >= 0 && std::isfinite(beta), "invalid beta: ", beta, " (must be >= 0)");
}

json VaeTrainOptions::to_json() const {
  return {{"epochs", epochs}, {"batch_size", batch_size}, {"lr", lr}, {"beta", beta},
          {"seed", seed},     {"device", device}};
}

namespace {

// Two stride-2 convs down to 1/4 resolution and two transposed convs back, with a 3x3 conv at
// each resolution for capacity; no batch norm, so encode/decode do not depend on the batch.
struct VaeNetImpl : nn::Module {
  explicit VaeNetImpl(const VaeOptions& o) : o(o) {
    const int64_t w = o.width_mult, hq = o.height / 4, wq = o.width / 4;
    flat = 2 * w * hq * wq;
    auto conv = [](int64_t in, int64_t out, int64_t k, int64_t s, int64_t p) {
      return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(s).padding(p));
    };
    auto up = [](int64_t in, int64_t out) {
      return nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, 4).stride(2).padding(1));
    };
    e1 = register_module("e1", conv(o.channels, w, 4, 2, 1));
    e2 = register_module("e2", conv(w, 2 * w, 4, 2, 1));
    e3 = register_module("e3", conv(2 * w, 2 * w, 3, 1, 1));
    mu = register_module("mu", nn::Linear(flat, o.latent));
    logvar = register_module("logvar", nn::Linear(flat, o.latent));
    d0 = register_module("d0", nn::Linear(o.latent, flat));
    d1 = register_module("d1", conv(2 * w, 2 * w, 3, 1, 1));
    d2 = register_module("d2", up(2 * w, w));
    d3 = register_module("d3", conv(w, w, 3, 1, 1));
    d4 = register_module("d4", up(w, o.channels));
  }
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x) {
    auto h = torch::leaky_relu(e1->forward(x), 0.2);
    h = torch::leaky_relu(e2->forward(h), 0.2);
    h = torch::leaky_relu(e3->forward(h), 0.2).flatten(1);
    return {mu->forward(h), logvar->forward(h).clamp(-10, 10)};
  }
  torch::Tensor decode_logits(const torch::Tensor& z) {
    auto h = torch::leaky_relu(d0->forward(z), 0.2)
                 .view({z.size(0), 2 * o.width_mult, o.height / 4, o.width / 4});
    h = torch::leaky_relu(d1->forward(h), 0.2);
    h = torch::leaky_relu(d2->forward(h), 0.2);
    h = torch::leaky_relu(d3->forward(h), 0.2);
    return d4->forward(h);
  }
  VaeOptions o;
  int64_t flat = 0;
  nn::Conv2d e1{nullptr}, e2{nullptr}, e3{nullptr}, d1{nullptr}, d3{nullptr};
  nn::ConvTranspose2d d2{nullptr}, d4{nullptr};
  nn::Linear mu{nullptr}, logvar{nullptr}, d0{nullptr};
};
TORCH_MODULE(VaeNet);

VaeNetImpl& net_of(const std::shared_ptr<nn::Module>& m) {
  return *std::dynamic_pointer_cast<VaeNetImpl>(m);
}

}  // namespace

Vae::Vae(VaeOptions options) : options_(options) {
  options_.validate();
  net_ = VaeNet(options_).ptr();
  net_->eval();
}

std::vector<int64_t> Vae::output_shape() const {
  return {options_.channels, options_.height, options_.width};
}

void Vae::to(torch::Device device) {
  net_->to(device);
  device_ = device;
}

torch::Tensor Vae::decode(const torch::Tensor& w) {
  CFX_CHECK(w.dim() == 2 && w.size(1) == options_.latent, "the VAE expects latents [N, ",
            options_.latent, "], got ", w.sizes());
  return torch::sigmoid(net_of(net_).decode_logits(w.to(device_, torch::kFloat)));
}

torch::Tensor Vae::encode(const torch::Tensor& x) {
  CFX_CHECK(x.dim() == 4 && x.size(1) == options_.channels && x.size(2) == options_.height &&
                x.size(3) == options_.width,
            "the VAE encodes [N, ", options_.channels, ", ", options_.height, ", ", options_.width,
            "] images, got ", x.sizes());
  return net_of(net_).encode(x.to(device_, torch::kFloat)).first;
}

json Vae::train(const Dataset& train, const Dataset& test, const VaeTrainOptions& o) {
  o.validate();
  CFX_CHECK(train.images.dim() == 4 && train.images.size(1) == options_.channels &&
                train.images.size(2) == options_.height && train.images.size(3) == options_.width,
            "dataset images are ", train.images.sizes(), ", the VAE was built for [N, ",
            options_.channels, ", ", options_.height, ", ", options_.width, "]");
  auto device = parse_device(o.device);
  to(device);
  seed_all(o.seed);
  auto& net = net_of(net_);
  net.train();
  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(o.lr));
  const auto& x = train.images;
  const int64_t n = x.size(0);
  const int64_t per_epoch = (n + o.batch_size - 1) / o.batch_size;
  ProgressBar bar("vae", o.epochs * per_epoch);
  double last_epoch_loss = 0;
  for (int64_t e = 0, step = 0; e < o.epochs; ++e) {
    auto perm = torch::randperm(n, torch::kLong);
    double sum = 0;
    for (int64_t b = 0; b < per_epoch; ++b, ++step) {
      auto idx = perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size));
      auto xb = x.index_select(0, idx).to(device);
      auto [mu, logvar] = net.encode(xb);
      auto z = mu + torch::randn_like(mu) * torch::exp(0.5 * logvar);
      // Bernoulli likelihood on the logits (numerically stable) summed per image: the ELBO.
      auto rec = torch::binary_cross_entropy_with_logits(net.decode_logits(z), xb, {}, {},
                                                         at::Reduction::None)
                     .flatten(1)
                     .sum(1);
      auto kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1);
      auto loss = (rec + o.beta * kl).mean();
      opt.zero_grad();
      loss.backward();
      nn::utils::clip_grad_norm_(net.parameters(), 10.0);
      opt.step();
      sum += loss.item<double>();
      bar.update(step + 1);
    }
    last_epoch_loss = sum / per_epoch;
  }
  net.eval();
  torch::NoGradGuard ng;
  double mse = 0, kl = 0;
  const int64_t nt = test.size();
  for (int64_t i = 0; i < nt; i += 256) {
    auto xb = test.images.slice(0, i, std::min(nt, i + 256)).to(device);
    auto [mu, logvar] = net.encode(xb);
    mse +=
        (torch::sigmoid(net.decode_logits(mu)) - xb).pow(2).flatten(1).mean(1).sum().item<double>();
    kl += (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).sum().item<double>();
  }
  json report = {{"train_loss", last_epoch_loss},
                 {"test_recon_mse", nt ? mse / nt : 0.0},
                 {"test_kl", nt ? kl / nt : 0.0}};
  char status[96];
  std::snprintf(status, sizeof status, "test recon MSE %.4f, KL %.1f",
                report["test_recon_mse"].get<double>(), report["test_kl"].get<double>());
  bar.finish(status);
  return report;
}

void Vae::save(const std::string& path, json meta) const {
  save_module(*net_, path);
  meta["kind"] = "vae";
  meta["arch_options"] = options_.to_json();
  write_sidecar(path, meta);
}

std::shared_ptr<Vae> Vae::load(const std::string& path) {
  json meta = read_checkpoint_meta(path, "vae", "generator", "cfx train vae");
  VaeOptions o;
  try {
    o = VaeOptions::from_json(meta.at("arch_options"));
  } catch (const json::exception& e) {
    fail("generator sidecar ", sidecar_path(path), " is invalid: ", e.what());
  }
  auto v = std::make_shared<Vae>(o);
  load_module(*v->net_, path);
  v->net_->eval();
  v->source = path;
  return v;
}

}  // namespace cfx
