#include "cfx/models/inpainter.h"

#include <torch/nn.h>
#include <torch/optim.h>

#include <cmath>

#include "cfx/core/batch_invariance.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/core/seed.h"
#include "cfx/models/checkpoint.h"

namespace nn = torch::nn;
using nlohmann::json;

namespace cfx {

void InpainterOptions::validate() const {
  CFX_CHECK(channels == 1 || channels == 3, "invalid channels: ", channels, " (use 1 or 3)");
  CFX_CHECK(width >= 4 && width <= 256, "invalid width: ", width, " (use 4 to 256)");
  CFX_CHECK(latent >= 0 && latent <= 256, "invalid latent: ", latent, " (use 0 to 256)");
}

json InpainterOptions::to_json() const {
  return {{"channels", channels}, {"width", width}, {"latent", latent}};
}

void InpainterTrainOptions::validate() const {
  CFX_CHECK(epochs >= 1 && epochs <= 10000, "invalid epochs: ", epochs);
  CFX_CHECK(batch_size >= 1, "invalid batch_size: ", batch_size);
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid learning rate: ", lr);
  CFX_CHECK(kl >= 0 && std::isfinite(kl), "invalid kl: ", kl, " (use >= 0)");
}

json InpainterTrainOptions::to_json() const {
  return {{"epochs", epochs}, {"batch_size", batch_size}, {"lr", lr},
          {"seed", seed},     {"device", device},         {"kl", kl}};
}

torch::Tensor random_infill_masks(int64_t n, int64_t h, int64_t w) {
  auto keep = torch::ones({n, 1, h, w});
  auto u = torch::rand({n, 8});
  for (int64_t i = 0; i < n; ++i) {
    auto r = u[i];
    if (r[0].item<float>() < 0.5f) {
      int64_t rects = 1 + static_cast<int64_t>(r[1].item<float>() * 3);
      for (int64_t k = 0; k < rects; ++k) {
        auto v = torch::rand({4});
        int64_t rh = std::max<int64_t>(1, std::lround((0.2 + 0.4 * v[0].item<double>()) * h));
        int64_t rw = std::max<int64_t>(1, std::lround((0.2 + 0.4 * v[1].item<double>()) * w));
        int64_t y = static_cast<int64_t>(v[2].item<double>() * (h - rh + 1));
        int64_t x = static_cast<int64_t>(v[3].item<double>() * (w - rw + 1));
        keep[i].slice(1, y, y + rh).slice(2, x, x + rw).zero_();
      }
    } else {
      int64_t cell = int64_t{1} << static_cast<int64_t>(r[2].item<float>() * 3);
      double drop = 0.2 + 0.6 * r[3].item<double>();
      int64_t gh = (h + cell - 1) / cell, gw = (w + cell - 1) / cell;
      auto g = (torch::rand({1, 1, gh, gw}) >= drop).to(torch::kFloat);
      keep[i] =
          torch::upsample_nearest2d(g, {gh * cell, gw * cell}).slice(2, 0, h).slice(3, 0, w)[0];
    }
  }
  return keep;
}

namespace {

// Encoder (full, then half resolution), a dilated middle whose receptive field spans a
// 32-pixel image, and a decoder with a skip from the full-resolution features. The input is
// the masked image plus the mask, so the network knows which zeros are missing pixels.
struct InpaintNetImpl : nn::Module {
  explicit InpaintNetImpl(const InpainterOptions& o) {
    int64_t w = o.width;
    auto conv = [](int64_t in, int64_t out, int64_t stride, int64_t dilation) {
      return nn::Conv2d(
          nn::Conv2dOptions(in, out, 3).stride(stride).padding(dilation).dilation(dilation));
    };
    latent = o.latent;
    e1 = register_module("e1", conv(o.channels + 1, w, 1, 1));
    e2 = register_module("e2", conv(w, 2 * w, 2, 1));
    // z enters the middle, where the receptive field spans the image: a sample changes what
    // is painted, not only its texture.
    m1 = register_module("m1", conv(2 * w + latent, 2 * w, 1, 2));
    if (latent > 0) {
      // The posterior q(z | x, mask) sees the whole image (training only).
      q1 = register_module("q1", conv(o.channels + 1, w, 2, 1));
      q2 = register_module("q2", conv(w, 2 * w, 2, 1));
      qh = register_module("qh", nn::Linear(2 * w, 2 * latent));
    }
    m2 = register_module("m2", conv(2 * w, 2 * w, 1, 4));
    m3 = register_module("m3", conv(2 * w, 2 * w, 1, 8));
    m4 = register_module("m4", conv(2 * w, 2 * w, 1, 1));
    d1 = register_module("d1", conv(3 * w, w, 1, 1));
    out = register_module("out", nn::Conv2d(nn::Conv2dOptions(w, o.channels, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& keep,
                        const torch::Tensor& z = {}) {
    return torch::sigmoid(logits(x, keep, z));
  }
  // z [N, latent]; undefined: zeros (the prior's mean).
  torch::Tensor logits(const torch::Tensor& x, const torch::Tensor& keep,
                       const torch::Tensor& z = {}) {
    auto in = torch::cat({x * keep, keep}, 1);
    auto h1 = torch::elu(e1->forward(in));
    auto h = torch::elu(e2->forward(h1));
    auto hz = h;
    if (latent > 0) {
      auto zz = z.defined() ? z.to(h.dtype()) : torch::zeros({h.size(0), latent}, h.options());
      hz = torch::cat(
          {h, zz.view({h.size(0), latent, 1, 1}).expand({h.size(0), latent, h.size(2), h.size(3)})},
          1);
    }
    // Half-weight residuals keep the activations' scale from growing with depth.
    h = h + 0.5 * torch::elu(m1->forward(hz));
    h = h + 0.5 * torch::elu(m2->forward(h));
    h = h + 0.5 * torch::elu(m3->forward(h));
    h = torch::elu(m4->forward(h));
    auto u = torch::upsample_bilinear2d(h, {x.size(2), x.size(3)}, false);
    u = torch::elu(d1->forward(torch::cat({u, h1}, 1)));
    return out->forward(u);
  }
  // q(z | x, mask): mean and log-variance [N, latent] each.
  std::pair<torch::Tensor, torch::Tensor> posterior(const torch::Tensor& x,
                                                    const torch::Tensor& keep) {
    auto g = torch::elu(q1->forward(torch::cat({x, keep}, 1)));
    g = torch::elu(q2->forward(g)).mean({2, 3});
    auto stats = qh->forward(g);
    return {stats.slice(1, 0, latent), stats.slice(1, latent).clamp(-10, 10)};
  }
  int64_t latent = 0;
  nn::Conv2d e1{nullptr}, e2{nullptr}, m1{nullptr}, m2{nullptr}, m3{nullptr}, m4{nullptr},
      d1{nullptr}, out{nullptr}, q1{nullptr}, q2{nullptr};
  nn::Linear qh{nullptr};
};
TORCH_MODULE(InpaintNet);

InpaintNetImpl& inpaint_net_of(const std::shared_ptr<nn::Module>& m) {
  return *std::dynamic_pointer_cast<InpaintNetImpl>(m);
}

// Mean |painting - x| over the missing pixels (all channels).
torch::Tensor missing_l1(const torch::Tensor& painted, const torch::Tensor& x,
                         const torch::Tensor& keep) {
  auto miss = (1 - keep).expand_as(x);
  return ((painted - x).abs() * miss).sum() / miss.sum().clamp_min(1);
}

}  // namespace

Inpainter::Inpainter(InpainterOptions options) : options_(options) {
  options_.validate();
  net_ = InpaintNet(options_).ptr();
  net_->eval();
}

void Inpainter::to(torch::Device device) {
  net_->to(device);
  device_ = device;
}

torch::Tensor Inpainter::paint(const torch::Tensor& x, const torch::Tensor& keep,
                               const torch::Tensor& noise) {
  CFX_CHECK(x.dim() == 4 && x.size(1) == options_.channels, "the inpainter expects [N, ",
            options_.channels, ", H, W] images, got ", x.sizes());
  CFX_CHECK(keep.dim() == 4 && keep.size(1) == 1 && keep.size(0) == x.size(0) &&
                keep.size(2) == x.size(2) && keep.size(3) == x.size(3),
            "inpainter mask must be [N, 1, H, W] like the images, got ", keep.sizes());
  torch::Tensor z;
  if (options_.latent > 0 && noise.defined()) {
    CFX_CHECK(noise.dim() == 2 && noise.size(0) == x.size(0) && noise.size(1) == options_.latent,
              "inpainter noise must be [N, ", options_.latent, "] for ", x.size(0), " images, got ",
              noise.sizes());
    z = as_two_rows(noise.to(device_, torch::kFloat));
  }
  auto xd = x.to(device_);
  return from_two_rows(inpaint_net_of(net_).forward(
                           as_two_rows(xd), as_two_rows(keep.to(device_, torch::kFloat)), z),
                       xd);
}

json Inpainter::train(const Dataset& train, const Dataset& test, const InpainterTrainOptions& o) {
  o.validate();
  CFX_CHECK(train.images.size(1) == options_.channels, "dataset images have ", train.images.size(1),
            " channels, the inpainter ", options_.channels);
  auto device = parse_device(o.device);
  to(device);
  seed_all(o.seed);
  auto& net = inpaint_net_of(net_);
  net.train();
  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(o.lr));
  const auto& x = train.images;
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t per_epoch = (n + o.batch_size - 1) / o.batch_size;
  ProgressBar bar("inpainter", o.epochs * per_epoch);
  for (int64_t e = 0, step = 0; e < o.epochs; ++e) {
    auto perm = torch::randperm(n, torch::kLong);
    for (int64_t b = 0; b < per_epoch; ++b, ++step) {
      auto idx = perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size));
      auto xb = x.index_select(0, idx).to(device);
      auto keep = random_infill_masks(xb.size(0), h, w).to(device);
      // Cross-entropy against the pixel values, on the logits: an L1 loss through a sigmoid
      // collapsed to painting black on MNIST (black is the median missing pixel, and the
      // saturated sigmoid then passes no gradient). The missing pixels are the task; a small
      // weight on the known ones keeps the painting continuous across the mask's border.
      // A conditional VAE when latent > 0: z from q(z | x, mask) by reparameterisation, and
      // the KL to N(0, I) per image pixel, on the reconstruction term's scale.
      torch::Tensor z, kl;
      if (options_.latent > 0) {
        auto [mu, logvar] = net.posterior(xb, keep);
        z = mu + torch::randn_like(mu) * (0.5 * logvar).exp();
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean() /
             static_cast<double>(xb.size(1) * h * w);
      }
      auto bce = torch::binary_cross_entropy_with_logits(net.logits(xb, keep, z), xb, {}, {},
                                                         at::Reduction::None);
      auto miss = (1 - keep).expand_as(xb);
      auto loss = (bce * miss).sum() / miss.sum().clamp_min(1) + 0.1 * bce.mean();
      if (kl.defined()) loss = loss + o.kl * kl;
      opt.zero_grad();
      loss.backward();
      // Without normalisation layers the residual stack can take a step that saturates the
      // sigmoid for good; bounded steps keep training stable over long runs.
      torch::nn::utils::clip_grad_norm_(net.parameters(), 1.0);
      opt.step();
      bar.update(step + 1);
    }
  }
  net.eval();
  torch::NoGradGuard ng;
  seed_all(o.seed + 1);
  auto xt = test.images.to(device);
  auto keep = random_infill_masks(xt.size(0), h, w).to(device);
  double err = 0, count = 0;
  for (int64_t i = 0; i < xt.size(0); i += 256) {
    int64_t j = std::min(xt.size(0), i + 256);
    auto xb = xt.slice(0, i, j), kb = keep.slice(0, i, j);
    double m = (1 - kb).sum().item<double>() * xb.size(1);
    err += missing_l1(net.forward(xb, kb), xb, kb).item<double>() * m;
    count += m;
  }
  double mae = count > 0 ? err / count : 0.0;
  char status[64];
  std::snprintf(status, sizeof status, "test L1 on missing pixels %.4f", mae);
  bar.finish(status);
  return {{"test_l1_missing", mae}};
}

void Inpainter::save(const std::string& path, json meta) const {
  save_module(*net_, path);
  meta["kind"] = "inpainter";
  meta["arch_options"] = options_.to_json();
  write_sidecar(path, meta);
}

std::shared_ptr<Inpainter> Inpainter::load(const std::string& path) {
  json meta = read_checkpoint_meta(path, "inpainter", "inpainter", "cfx train inpainter");
  InpainterOptions o;
  try {
    const auto& a = meta.at("arch_options");
    o.channels = a.at("channels").get<int64_t>();
    o.width = a.at("width").get<int64_t>();
    o.latent = a.value("latent", int64_t{0});  // absent in checkpoints before 2026-11-30
  } catch (const json::exception& e) {
    fail("inpainter sidecar ", sidecar_path(path), " is invalid: ", e.what());
  }
  auto p = std::make_shared<Inpainter>(o);
  load_module(*p->net_, path);
  p->net_->eval();
  return p;
}

}  // namespace cfx
