#include "cfx/models/vae.h"

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
#include "vae_net.h"

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
  CFX_CHECK(decoder == "conv" || decoder == "broadcast", "invalid decoder: '", decoder,
            "' (use conv or broadcast)");
  CFX_CHECK(supersample >= 1 && supersample <= 4, "invalid supersample: ", supersample,
            " (use 1 to 4)");
  CFX_CHECK(supersample == 1 || decoder == "broadcast", "invalid supersample: ", supersample,
            " (only the broadcast decoder draws at a higher resolution; use 1 with decoder '",
            decoder, "')");
}

json VaeOptions::to_json() const {
  return {{"channels", channels},      {"height", height},         {"width", width},
          {"latent", latent},          {"width_mult", width_mult}, {"decoder", decoder},
          {"supersample", supersample}};
}

VaeOptions VaeOptions::from_json(const json& j) {
  VaeOptions o;
  o.channels = j.at("channels").get<int64_t>();
  o.height = j.at("height").get<int64_t>();
  o.width = j.at("width").get<int64_t>();
  o.latent = j.at("latent").get<int64_t>();
  o.width_mult = j.at("width_mult").get<int64_t>();
  o.decoder = j.value("decoder", std::string("conv"));  // checkpoints from before it existed
  o.supersample = j.value("supersample", int64_t{1});   // likewise
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

Vae::Vae(VaeOptions options) : options_(options), net_(detail::make_vae_net(options_, 0)) {}

std::vector<int64_t> Vae::output_shape() const { return detail::vae_output_shape(options_); }

void Vae::to(torch::Device device) {
  if (device == device_) return;  // side-by-side runs call it; moving rewrites the weights
  net_->to(device);
  device_ = device;
}

namespace detail {

torch::Tensor encode_mean(VaeNetImpl& net, torch::Device device, const torch::Tensor& x,
                          const torch::Tensor& a, const char* who) {
  const auto& o = net.o;
  CFX_CHECK(
      x.dim() == 4 && x.size(1) == o.channels && x.size(2) == o.height && x.size(3) == o.width, who,
      " encodes [N, ", o.channels, ", ", o.height, ", ", o.width, "] images, got ", x.sizes());
  auto xd = x.to(device, torch::kFloat);
  auto ad = a.defined() ? as_two_rows(a.to(device, torch::kFloat)) : torch::Tensor();
  return from_two_rows(net.encode(as_two_rows(xd), ad).first, xd);
}

torch::Tensor decode_images(VaeNetImpl& net, torch::Device device, const torch::Tensor& z,
                            const torch::Tensor& a, const char* who) {
  CFX_CHECK(z.dim() == 2 && z.size(1) == net.o.latent, who, " expects latents [N, ", net.o.latent,
            "], got ", z.sizes());
  auto zd = z.to(device, torch::kFloat);
  auto ad = a.defined() ? as_two_rows(a.to(device, torch::kFloat)) : torch::Tensor();
  return torch::sigmoid(from_two_rows(net.decode_logits(as_two_rows(zd), ad), zd));
}

void save_vae(torch::nn::Module& net, const VaeOptions& o, const std::string& path, json meta,
              const char* kind) {
  save_module(net, path);
  meta["kind"] = kind;
  meta["arch_options"] = o.to_json();
  write_sidecar(path, meta);
}

}  // namespace detail

torch::Tensor Vae::decode(const torch::Tensor& w) {
  return detail::decode_images(detail::net_of(net_), device_, w, {}, "the VAE");
}

torch::Tensor Vae::encode(const torch::Tensor& x) {
  return detail::encode_mean(detail::net_of(net_), device_, x, {}, "the VAE");
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
  auto& net = detail::net_of(net_);
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
      auto t = detail::elbo_terms(net, xb);
      auto loss = (t.rec + o.beta * t.kl).mean();
      opt.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(net.parameters(), 10.0);
      opt.step();
      sum += loss.item<double>();
      bar.update(step + 1);
    }
    last_epoch_loss = sum / per_epoch;
  }
  net.eval();
  auto [mse, kl] = detail::recon_mse_and_kl(net, test.images, device,
                                            [](const torch::Tensor&) { return torch::Tensor(); });
  json report = {{"train_loss", last_epoch_loss}, {"test_recon_mse", mse}, {"test_kl", kl}};
  char status[96];
  std::snprintf(status, sizeof status, "test recon MSE %.4f, KL %.1f",
                report["test_recon_mse"].get<double>(), report["test_kl"].get<double>());
  bar.finish(status);
  return report;
}

void Vae::save(const std::string& path, json meta) const {
  detail::save_vae(*net_, options_, path, std::move(meta), "vae");
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
