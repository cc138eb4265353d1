// The convolutional VAE network behind `Vae` and, conditioned on attributes, `Cvae` (internal to
// src/models). With K = 0 conditions it is the plain VAE; with K > 0 the attributes a [N, K]
// join the encoder's features before q(z | x, a) and the latent before the decoder.
#pragma once

#include <torch/nn.h>

#include <functional>

#include "cfx/core/tensor.h"
#include "cfx/models/vae.h"

namespace cfx::detail {

// Two stride-2 convs down to 1/4 resolution and (decoder "conv") two transposed convs back, or
// ("broadcast") convs over the latent tiled at full resolution; a 3x3 conv at
// each resolution for capacity; no batch norm, so encode/decode do not depend on the batch.
struct VaeNetImpl : torch::nn::Module {
  VaeNetImpl(const VaeOptions& o, int64_t conditions) : o(o), k(conditions) {
    namespace nn = torch::nn;
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
    mu = register_module("mu", nn::Linear(flat + k, o.latent));
    logvar = register_module("logvar", nn::Linear(flat + k, o.latent));
    if (o.decoder == "broadcast") {
      // Coordinates as two extra channels, in [-1, 1], at the drawing's resolution (supersample
      // times the image's); made once, moved with the module.
      const int64_t hs = o.height * o.supersample, ws = o.width * o.supersample;
      auto ys = torch::linspace(-1, 1, hs).view({1, 1, hs, 1}).expand({1, 1, hs, ws});
      auto xs = torch::linspace(-1, 1, ws).view({1, 1, 1, ws}).expand({1, 1, hs, ws});
      grid = register_buffer("grid", torch::cat({xs, ys}, 1).contiguous());
      b1 = register_module("b1", conv(o.latent + k + 2, 2 * w, 3, 1, 1));
      b2 = register_module("b2", conv(2 * w, 2 * w, 3, 1, 1));
      b3 = register_module("b3", conv(2 * w, 2 * w, 3, 1, 1));
      b4 = register_module("b4", conv(2 * w, o.channels, 3, 1, 1));
      return;
    }
    d0 = register_module("d0", nn::Linear(o.latent + k, flat));
    d1 = register_module("d1", conv(2 * w, 2 * w, 3, 1, 1));
    d2 = register_module("d2", up(2 * w, w));
    d3 = register_module("d3", conv(w, w, 3, 1, 1));
    d4 = register_module("d4", up(w, o.channels));
  }
  // a: [N, K] or undefined when K = 0.
  torch::Tensor with(const torch::Tensor& h, const torch::Tensor& a) const {
    return k == 0 ? h : torch::cat({h, a.to(h.dtype())}, 1);
  }
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x,
                                                 const torch::Tensor& a = {}) {
    auto h = torch::leaky_relu(e1->forward(x), 0.2);
    h = torch::leaky_relu(e2->forward(h), 0.2);
    h = with(torch::leaky_relu(e3->forward(h), 0.2).flatten(1), a);
    return {mu->forward(h), logvar->forward(h).clamp(-10, 10)};
  }
  torch::Tensor decode_logits(const torch::Tensor& z, const torch::Tensor& a = {}) {
    if (b1) {
      auto v = with(z, a);
      auto h = torch::cat(
          {v.view({v.size(0), v.size(1), 1, 1}).expand({-1, -1, grid.size(2), grid.size(3)}),
           grid.to(v.dtype()).expand({v.size(0), -1, -1, -1})},
          1);
      h = torch::leaky_relu(b1->forward(h), 0.2);
      h = torch::leaky_relu(b2->forward(h), 0.2);
      h = torch::leaky_relu(b3->forward(h), 0.2);
      return box_average_logits(b4->forward(h), o.supersample);
    }
    auto h = torch::leaky_relu(d0->forward(with(z, a)), 0.2)
                 .view({z.size(0), 2 * o.width_mult, o.height / 4, o.width / 4});
    h = torch::leaky_relu(d1->forward(h), 0.2);
    h = torch::leaky_relu(d2->forward(h), 0.2);
    h = torch::leaky_relu(d3->forward(h), 0.2);
    return d4->forward(h);
  }
  VaeOptions o;
  int64_t k = 0;
  int64_t flat = 0;
  torch::nn::Conv2d e1{nullptr}, e2{nullptr}, e3{nullptr}, d1{nullptr}, d3{nullptr};
  torch::nn::Conv2d b1{nullptr}, b2{nullptr}, b3{nullptr}, b4{nullptr};  // broadcast decoder
  torch::Tensor grid;  // [1, 2, H, W] x, y coordinates (broadcast decoder)
  torch::nn::ConvTranspose2d d2{nullptr}, d4{nullptr};
  torch::nn::Linear mu{nullptr}, logvar{nullptr}, d0{nullptr};
};
TORCH_MODULE(VaeNet);

/// A new network for `o` with `conditions` attribute inputs (0: a plain VAE), in eval mode;
/// throws cfx::Error naming an invalid option.
inline std::shared_ptr<torch::nn::Module> make_vae_net(const VaeOptions& o, int64_t conditions) {
  o.validate();
  auto net = VaeNet(o, conditions).ptr();
  net->eval();
  return net;
}

/// [C, H, W] of the images a network for `o` writes.
inline std::vector<int64_t> vae_output_shape(const VaeOptions& o) {
  return {o.channels, o.height, o.width};
}

inline VaeNetImpl& net_of(const std::shared_ptr<torch::nn::Module>& m) {
  return *std::dynamic_pointer_cast<VaeNetImpl>(m);
}

/// μ(x, a) of images x [N, C, H, W] (checked against the net's options; `who` names the model
/// in the message), on `device`, each item the same in any batch (core/batch_invariance.h).
/// a: [N, K] conditions, or undefined for K = 0.
torch::Tensor encode_mean(VaeNetImpl& net, torch::Device device, const torch::Tensor& x,
                          const torch::Tensor& a, const char* who);

/// sigmoid(decoder(z, a)) for latents z [N, L]: images [N, C, H, W], as encode_mean.
torch::Tensor decode_images(VaeNetImpl& net, torch::Device device, const torch::Tensor& z,
                            const torch::Tensor& a, const char* who);

/// Writes the weights and a sidecar of `kind` with the architecture added to `meta`.
void save_vae(torch::nn::Module& net, const VaeOptions& o, const std::string& path,
              nlohmann::json meta, const char* kind);

/// Per image of xb [B, C, H, W]: the Bernoulli reconstruction term (summed over pixels) and
/// the KL to N(0, I), with z drawn by reparameterisation; the negative ELBO is rec + KL.
/// `logits` is the decoder's output for z [B, C, H, W].
struct ElboTerms {
  torch::Tensor rec, kl, z, logits;
};
/// `noise` scales the reparameterisation noise (1: the ELBO's sample; 0: z = the mean).
inline ElboTerms elbo_terms(VaeNetImpl& net, const torch::Tensor& xb, const torch::Tensor& a = {},
                            double noise = 1.0) {
  auto [mu, logvar] = net.encode(xb, a);
  auto z = mu + noise * torch::randn_like(mu) * torch::exp(0.5 * logvar);
  // On the logits: numerically stable.
  auto logits = net.decode_logits(z, a);
  auto rec = torch::binary_cross_entropy_with_logits(logits, xb, {}, {}, at::Reduction::None)
                 .flatten(1)
                 .sum(1);
  auto kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1);
  return {rec, kl, z, logits};
}

/// Held-out numbers: mean squared error per pixel of decode(encode(x)) and KL per image.
/// cond(xb) gives the conditions of a chunk (undefined for K = 0).
inline std::pair<double, double> recon_mse_and_kl(
    VaeNetImpl& net, const torch::Tensor& images, torch::Device device,
    const std::function<torch::Tensor(const torch::Tensor&)>& cond) {
  torch::NoGradGuard ng;
  double mse = 0, kl = 0;
  const int64_t n = images.size(0);
  for (int64_t i = 0; i < n; i += 256) {
    auto xb = images.slice(0, i, std::min(n, i + 256)).to(device);
    auto a = cond(xb);
    auto [mu, logvar] = net.encode(xb, a);
    mse += (torch::sigmoid(net.decode_logits(mu, a)) - xb)
               .pow(2)
               .flatten(1)
               .mean(1)
               .sum()
               .item<double>();
    kl += (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).sum().item<double>();
  }
  return {n ? mse / n : 0.0, n ? kl / n : 0.0};
}

}  // namespace cfx::detail
