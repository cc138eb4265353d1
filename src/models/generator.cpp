#include "cfx/models/generator.h"

#include <torch/optim.h>
#include <torch/script.h>

#include <cmath>
#include <filesystem>

#include "cfx/core/batch_invariance.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/surface.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/vae.h"

namespace cfx {

namespace {

std::string one_line(std::string s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// A user's TorchScript generator: `decode` and, if present, `encode`.
class TorchScriptGenerator : public Generator {
 public:
  TorchScriptGenerator(const std::string& path) {
    namespace fs = std::filesystem;
    source = path;
    std::error_code ec;
    CFX_CHECK(!fs::is_directory(path, ec), "cannot load generator ", path,
              ": it is a folder, expected a TorchScript archive (.pt)");
    torch::jit::ExtraFilesMap extra{{"cfx.json", ""}};
    try {
      module_ = torch::jit::load(path, torch::Device(torch::kCPU), extra);
    } catch (const std::exception& e) {
      fail("cannot load generator ", path, ": not a cfx VAE checkpoint or TorchScript archive (",
           one_line(e.what()), ")");
    }
    module_.eval();
    CFX_CHECK(module_.find_method("decode").has_value(), "generator ", path,
              " has no `decode` method (export a module with decode(w) -> images)");
    has_encoder_ = module_.find_method("encode").has_value();
    latent_ = -1;
    if (!extra["cfx.json"].empty()) {
      try {
        auto j = nlohmann::json::parse(extra["cfx.json"]);
        if (j.contains("latent_dim")) latent_ = j.at("latent_dim").get<int64_t>();
      } catch (const std::exception& e) {
        fail("cfx.json in generator ", path, " is invalid: ", one_line(e.what()));
      }
    }
    if (latent_ < 0 && module_.hasattr("latent_dim")) {
      auto v = module_.attr("latent_dim");
      CFX_CHECK(v.isInt(), "generator ", path, ": attribute latent_dim must be an integer");
      latent_ = v.toInt();
    }
    CFX_CHECK(latent_ > 0, "generator ", path,
              " does not say its latent size: add cfx.json {\"latent_dim\": L} to the archive "
              "or an integer attribute latent_dim to the module");
    torch::NoGradGuard ng;
    torch::Tensor probe;
    try {
      probe = decode(torch::zeros({1, latent_}));
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail("generator ", path, ": decode failed on a zero latent of size ", latent_, ": ",
           one_line(e.what()));
    }
    CFX_CHECK(probe.dim() == 4 && probe.size(0) == 1, "generator ", path,
              ": decode must return images [N, C, H, W], got ", probe.sizes());
    shape_ = {probe.size(1), probe.size(2), probe.size(3)};
  }

  torch::Tensor decode(const torch::Tensor& w) override {
    auto wd = w.to(device_, torch::kFloat);
    auto out = module_.get_method("decode")({as_two_rows(wd)});
    CFX_CHECK(out.isTensor(), "generator ", source, ": decode must return a tensor");
    return from_two_rows(out.toTensor(), wd);
  }
  bool has_encoder() const override { return has_encoder_; }
  torch::Tensor encode(const torch::Tensor& x) override {
    CFX_CHECK(has_encoder_, "generator ", source, " has no encode method");
    auto xd = x.to(device_, torch::kFloat);
    auto out = module_.get_method("encode")({as_two_rows(xd)});
    torch::Tensor mu;
    if (out.isTensor())
      mu = out.toTensor();
    else if (out.isTuple() && !out.toTuple()->elements().empty() &&
             out.toTuple()->elements()[0].isTensor())
      mu = out.toTuple()->elements()[0].toTensor();
    mu = from_two_rows(mu, xd);
    CFX_CHECK(mu.defined() && mu.dim() == 2 && mu.size(1) == latent_, "generator ", source,
              ": encode must return latents [N, ", latent_, "] (or a tuple starting with them)");
    return mu;
  }
  int64_t latent_dim() const override { return latent_; }
  std::vector<int64_t> output_shape() const override { return shape_; }
  void to(torch::Device device) override {
    if (device == device_) return;  // side-by-side runs call it; moving rewrites the weights
    module_.to(device);
    device_ = device;
  }
  torch::Device device() const override { return device_; }

 private:
  torch::jit::Module module_;
  bool has_encoder_ = false;
  int64_t latent_ = 0;
  std::vector<int64_t> shape_;
  torch::Device device_ = torch::kCPU;
};

}  // namespace

std::shared_ptr<Generator> load_generator(const std::string& path) {
  CFX_CHECK(!path.empty(), "no generator given (pass ", option("generator", "FILE", "PATH"), ")");
  CFX_CHECK(is_file(path) || std::filesystem::is_directory(path),
            "generator file not found: ", path);
  if (!read_sidecar(path).is_null()) return Vae::load(path);
  return std::make_shared<TorchScriptGenerator>(path);
}

void InvertOptions::validate() const {
  CFX_CHECK(steps >= 0 && steps <= 100000, "invalid encode steps: ", steps, " (use 0 to 100000)");
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid encode lr: ", lr, " (must be > 0)");
  CFX_CHECK(prior_weight >= 0 && std::isfinite(prior_weight),
            "invalid prior weight: ", prior_weight);
  CFX_CHECK(batch_size >= 1, "invalid inversion batch size: ", batch_size);
}

namespace {

// One batch of invert_generator (validated inputs).
torch::Tensor invert_batch(Generator& G, const torch::Tensor& x, const InvertOptions& o) {
  auto xd = x.to(G.device(), torch::kFloat);
  torch::Tensor w;
  if (G.has_encoder()) {
    torch::NoGradGuard ng;
    w = G.encode(xd).detach();
    if (!o.refine) return w;
  } else {
    // The prior's mode: deterministic, and each item's path is independent of its batch.
    w = torch::zeros({x.size(0), G.latent_dim()}, torch::Device(G.device()));
  }
  // Callers may hold a no-grad guard; the optimisation needs gradients regardless.
  torch::AutoGradMode grad_on(true);
  w = w.clone().requires_grad_(true);
  torch::optim::Adam opt({w}, torch::optim::AdamOptions(o.lr));
  for (int64_t s = 0; s < o.steps; ++s) {
    // Summed over items: each item's gradient is its own, so the batch does not couple them.
    auto rec = (G.decode(w) - xd).pow(2).flatten(1).mean(1);
    auto loss = (rec + o.prior_weight * w.pow(2).mean(1)).sum();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  return w.detach();
}

}  // namespace

torch::Tensor invert_generator(Generator& G, const torch::Tensor& x, const InvertOptions& o) {
  o.validate();
  auto shape = G.output_shape();
  CFX_CHECK(x.dim() == 4 && x.size(1) == shape[0] && x.size(2) == shape[1] && x.size(3) == shape[2],
            "the generator makes ", shape_str(shape), " images but the inputs are ", x.sizes(),
            "; use a generator trained on images of the classifier's shape");
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += o.batch_size)
    parts.push_back(invert_batch(G, x.slice(0, i, std::min(x.size(0), i + o.batch_size)), o));
  return parts.empty() ? torch::zeros({0, G.latent_dim()}, torch::Device(G.device()))
                       : torch::cat(parts);
}

}  // namespace cfx
