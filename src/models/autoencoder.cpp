#include "cfx/models/autoencoder.h"

#include <torch/nn.h>
#include <torch/optim.h>

#include <cmath>

#include "cfx/core/batch_invariance.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/core/seed.h"
#include "cfx/core/surface.h"
#include "cfx/models/checkpoint.h"

namespace nn = torch::nn;
using nlohmann::json;

namespace cfx {

void AutoencoderOptions::validate() const {
  CFX_CHECK(channels == 1 || channels == 3, "invalid channels: ", channels, " (use 1 or 3)");
  CFX_CHECK(width >= 1 && width <= 256, "invalid width: ", width);
  CFX_CHECK(latent >= 1 && latent <= 256, "invalid latent: ", latent);
  CFX_CHECK(activation == "relu" || activation == "leaky_relu", "invalid activation: '", activation,
            "' (use relu or leaky_relu)");
}

json AutoencoderOptions::to_json() const {
  return {{"channels", channels}, {"width", width}, {"latent", latent}, {"activation", activation}};
}

void AutoencoderTrainOptions::validate() const {
  CFX_CHECK(epochs >= 1 && epochs <= 10000, "invalid epochs: ", epochs);
  CFX_CHECK(batch_size >= 1, "invalid batch_size: ", batch_size);
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid learning rate: ", lr);
  CFX_CHECK(loss == "bce" || loss == "mse", "invalid loss: '", loss, "' (use bce or mse)");
}

json AutoencoderTrainOptions::to_json() const {
  return {{"epochs", epochs}, {"batch_size", batch_size}, {"lr", lr}, {"loss", loss},
          {"seed", seed},     {"device", device}};
}

namespace {

// conv(s2) -> conv(s2) -> 1x1 bottleneck -> upsample+conv -> upsample+conv -> sigmoid.
// Upsampling to the exact input size keeps any H, W working.
struct ConvAEImpl : nn::Module {
  explicit ConvAEImpl(const AutoencoderOptions& o) : leaky(o.activation == "leaky_relu") {
    int64_t w = o.width;
    auto conv = [](int64_t in, int64_t out, int64_t k, int64_t stride) {
      return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2));
    };
    e1 = register_module("e1", conv(o.channels, w, 3, 2));
    e2 = register_module("e2", conv(w, 2 * w, 3, 2));
    z = register_module("z", conv(2 * w, o.latent, 1, 1));
    d1 = register_module("d1", conv(o.latent, 2 * w, 3, 1));
    d2 = register_module("d2", conv(2 * w, w, 3, 1));
    out = register_module("out", conv(w, o.channels, 3, 1));
  }
  torch::Tensor act(const torch::Tensor& h) const {
    return leaky ? torch::leaky_relu(h, 0.2) : torch::relu(h);
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::sigmoid(logits(x)); }
  torch::Tensor logits(const torch::Tensor& x) {
    auto h1 = act(e1->forward(x));
    auto h2 = act(e2->forward(h1));
    auto l = act(z->forward(h2));
    auto u = act(d1->forward(torch::upsample_nearest2d(l, {h1.size(2), h1.size(3)})));
    u = act(d2->forward(torch::upsample_nearest2d(u, {x.size(2), x.size(3)})));
    return out->forward(u);
  }
  bool leaky = true;
  nn::Conv2d e1{nullptr}, e2{nullptr}, z{nullptr}, d1{nullptr}, d2{nullptr}, out{nullptr};
};
TORCH_MODULE(ConvAE);

ConvAEImpl& ae_of(const std::shared_ptr<nn::Module>& m) {
  return *std::dynamic_pointer_cast<ConvAEImpl>(m);
}

}  // namespace

ClassAutoencoders::ClassAutoencoders(int64_t num_classes, AutoencoderOptions options)
    : num_classes_(num_classes), options_(options) {
  options_.validate();
  CFX_CHECK(num_classes >= 2, "invalid num_classes: ", num_classes);
  root_ = std::make_shared<nn::Module>("ClassAutoencoders");
  for (int64_t c = 0; c <= num_classes; ++c) {
    auto name = c < num_classes ? "class" + std::to_string(c) : std::string("all");
    aes_.push_back(root_->register_module(name, ConvAE(options_)));
  }
  root_->eval();
}

void ClassAutoencoders::to(torch::Device device) {
  root_->to(device);
  device_ = device;
}

torch::Tensor ClassAutoencoders::reconstruct(const torch::Tensor& x, const torch::Tensor& cls) {
  CFX_CHECK(x.dim() == 4 && x.size(1) == options_.channels, "autoencoders expect [N, ",
            options_.channels, ", H, W] images, got ", x.sizes());
  auto c = cls.cpu().to(torch::kLong);
  auto xd = x.to(device_);
  auto out = torch::empty_like(xd);
  for (int64_t k = -1; k < num_classes_; ++k) {
    auto rows = (c == k).nonzero().flatten();
    if (rows.numel() == 0) continue;
    auto& ae = ae_of(aes_[k < 0 ? num_classes_ : k]);
    auto r = rows.to(device_);
    auto xr = xd.index_select(0, r);
    out.index_copy_(0, r, from_two_rows(ae.forward(as_two_rows(xr)), xr));
  }
  return out;
}

torch::Tensor ClassAutoencoders::reconstruct_all(const torch::Tensor& x) {
  return reconstruct(x, torch::full({x.size(0)}, -1, torch::kLong));
}

json ClassAutoencoders::train(const Dataset& train, const Dataset& test,
                              const AutoencoderTrainOptions& o) {
  o.validate();
  CFX_CHECK(train.num_classes() == num_classes_, "dataset has ", train.num_classes(),
            " classes, the autoencoder set ", num_classes_);
  auto device = parse_device(o.device);
  to(device);
  seed_all(o.seed);
  json report = json::object();
  for (int64_t k = 0; k <= num_classes_; ++k) {
    bool all = k == num_classes_;
    auto& ae = ae_of(aes_[k]);
    auto pick = [&](const Dataset& d) {
      return all ? d.images : d.images.index_select(0, (d.labels == k).nonzero().flatten());
    };
    auto x = pick(train);
    std::string name = all ? "all" : "class:" + train.class_names[k];
    CFX_CHECK(x.size(0) > 0, "no training images of ", name);
    ae.train();
    torch::optim::Adam opt(ae.parameters(), torch::optim::AdamOptions(o.lr));
    const int64_t n = x.size(0), per_epoch = (n + o.batch_size - 1) / o.batch_size;
    ProgressBar bar("autoencoder " + name, o.epochs * per_epoch);
    for (int64_t e = 0, step = 0; e < o.epochs; ++e) {
      auto perm = torch::randperm(n, torch::kLong);
      for (int64_t b = 0; b < per_epoch; ++b, ++step) {
        auto idx = perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size));
        auto xb = x.index_select(0, idx).to(device);
        auto loss = o.loss == "bce" ? torch::binary_cross_entropy_with_logits(ae.logits(xb), xb)
                                    : torch::mse_loss(ae.forward(xb), xb);
        opt.zero_grad();
        loss.backward();
        opt.step();
        bar.update(step + 1);
      }
    }
    ae.eval();
    torch::NoGradGuard ng;
    auto xt = pick(test).to(device);
    double err = xt.size(0) ? torch::mse_loss(ae.forward(xt), xt).item<double>() : 0.0;
    char status[64];
    std::snprintf(status, sizeof status, "test mse %.5f", err);
    bar.finish(status);
    report[name] = err;
  }
  root_->eval();
  return report;
}

void ClassAutoencoders::save(const std::string& path, json meta) const {
  save_module(*root_, path);
  meta["kind"] = "autoencoders";
  meta["num_classes"] = num_classes_;
  meta["arch_options"] = options_.to_json();
  write_sidecar(path, meta);
}

ClassAutoencoders ClassAutoencoders::load(const std::string& path) {
  CFX_CHECK(is_file(path), "autoencoders file not found: ", path);
  json meta = read_sidecar(path);
  CFX_CHECK(!meta.is_null(), "autoencoders ", path, " have no cfx sidecar ", sidecar_path(path));
  CFX_CHECK(meta.value("kind", "") == "autoencoders", path, " is a '", meta.value("kind", "?"),
            "' checkpoint, not autoencoders (make them with ", train_call("autoencoder", {}), ")");
  AutoencoderOptions o;
  int64_t k = 0;
  try {
    const auto& a = meta.at("arch_options");
    o.channels = a.at("channels").get<int64_t>();
    o.width = a.at("width").get<int64_t>();
    o.latent = a.at("latent").get<int64_t>();
    o.activation = a.value("activation", std::string("relu"));
    k = meta.at("num_classes").get<int64_t>();
  } catch (const json::exception& e) {
    fail("autoencoders sidecar ", sidecar_path(path), " is invalid: ", e.what());
  }
  ClassAutoencoders aes(k, o);
  load_module(*aes.root_, path);
  aes.root_->eval();
  return aes;
}

}  // namespace cfx
