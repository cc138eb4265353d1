#include "cfx/models/shifter.h"

#include <torch/nn.h>
#include <torch/optim.h>

#include <cmath>

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

void ShifterOptions::validate() const {
  CFX_CHECK(latent >= 1 && latent <= 4096, "invalid shifter latent size: ", latent);
  CFX_CHECK(attributes >= 1 && attributes <= 1024, "invalid shifter attribute count: ", attributes);
  CFX_CHECK(hidden >= 4 && hidden <= 8192, "invalid shifter hidden width: ", hidden,
            " (use 4 to 8192)");
}

json ShifterOptions::to_json() const {
  return {{"latent", latent}, {"attributes", attributes}, {"hidden", hidden}};
}

ShifterOptions ShifterOptions::from_json(const json& j) {
  ShifterOptions o;
  o.latent = j.at("latent").get<int64_t>();
  o.attributes = j.at("attributes").get<int64_t>();
  o.hidden = j.at("hidden").get<int64_t>();
  return o;
}

void ShifterTrainOptions::validate() const {
  CFX_CHECK(steps >= 1 && steps <= 1000000, "invalid steps: ", steps);
  CFX_CHECK(batch_size >= 1, "invalid batch_size: ", batch_size);
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid learning rate: ", lr);
  CFX_CHECK(beta >= 0 && std::isfinite(beta), "invalid beta: ", beta, " (must be >= 0)");
  CFX_CHECK(keep_weight >= 0 && std::isfinite(keep_weight), "invalid keep_weight: ", keep_weight);
  CFX_CHECK(second >= 0 && second <= 1, "invalid second: ", second, " (a probability)");
  CFX_CHECK(eval_n >= 1, "invalid eval_n: ", eval_n);
  CFX_CHECK(cycle_weight >= 0 && std::isfinite(cycle_weight),
            "invalid cycle_weight: ", cycle_weight);
  CFX_CHECK(!latents.defined() || (latents.dim() == 2 && latents.size(0) >= 1),
            "training latents must be [M, L]");
  CFX_CHECK(check_every >= 0, "invalid check_every: ", check_every, " (0: no checks)");
  CFX_CHECK(check_n >= 1, "invalid check_n: ", check_n);
  CFX_CHECK(patience >= 1, "invalid patience: ", patience, " (use >= 1)");
  CFX_CHECK(tolerance >= 0 && std::isfinite(tolerance), "invalid tolerance: ", tolerance);
}

json ShifterTrainOptions::to_json() const {
  return {{"steps", steps},
          {"batch_size", batch_size},
          {"lr", lr},
          {"beta", beta},
          {"keep_weight", keep_weight},
          {"second", second},
          {"seed", seed},
          {"device", device},
          {"eval_n", eval_n},
          {"cycle_weight", cycle_weight},
          {"check_every", check_every},
          {"check_n", check_n},
          {"patience", patience},
          {"tolerance", tolerance},
          {"latents", latents.defined() ? "data" : "prior"}};
}

namespace {

struct ShiftNetImpl : nn::Module {
  explicit ShiftNetImpl(const ShifterOptions& o) {
    l1 = register_module("l1", nn::Linear(o.latent + o.attributes, o.hidden));
    l2 = register_module("l2", nn::Linear(o.hidden, o.hidden));
    l3 = register_module("l3", nn::Linear(o.hidden, o.latent));
  }
  torch::Tensor forward(const torch::Tensor& w, const torch::Tensor& t) {
    auto h = torch::relu(l1->forward(torch::cat({w, t}, 1)));
    h = torch::relu(l2->forward(h));
    return l3->forward(h);
  }
  nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr};
};
TORCH_MODULE(ShiftNet);

ShiftNetImpl& shift_net_of(const std::shared_ptr<nn::Module>& m) {
  return *std::dynamic_pointer_cast<ShiftNetImpl>(m);
}

// Random requests for a batch whose attributes A currently sees as `on` ([B, K] bool): one
// attribute per item (its opposite state 80% of the time, else a random state, so S also learns
// that asking for what is already there means no change), and a second with probability `second`.
torch::Tensor random_requests(const torch::Tensor& on, double second) {
  const int64_t b = on.size(0), k = on.size(1);
  auto t = torch::zeros({b, k});
  auto pick = [&](const torch::Tensor& idx) {
    auto cur = on.gather(1, idx.unsqueeze(1)).squeeze(1).to(torch::kFloat);
    auto opposite = 1 - 2 * cur;
    auto random = torch::randint(0, 2, {b}).to(torch::kFloat) * 2 - 1;
    auto value = torch::where(torch::rand({b}) < 0.8, opposite, random);
    t.scatter_(1, idx.unsqueeze(1), value.unsqueeze(1));
  };
  pick(torch::randint(0, k, {b}, torch::kLong));
  if (k > 1) {
    auto idx2 = torch::randint(0, k, {b}, torch::kLong);
    auto keep_first = t.gather(1, idx2.unsqueeze(1)).squeeze(1) != 0;
    auto use = (torch::rand({b}) < second) & ~keep_first;
    auto before = t.clone();
    pick(idx2);
    t = torch::where(use.unsqueeze(1), t, before);
  }
  return t;
}

}  // namespace

Shifter::Shifter(ShifterOptions options) : options_(options) {
  options_.validate();
  net_ = ShiftNet(options_).ptr();
  net_->eval();
}

void Shifter::to(torch::Device device) {
  if (device == device_) return;  // side-by-side runs call it; moving rewrites the weights
  net_->to(device);
  device_ = device;
}

torch::Tensor Shifter::shift(const torch::Tensor& w, const torch::Tensor& t) {
  CFX_CHECK(w.dim() == 2 && w.size(1) == options_.latent && t.dim() == 2 &&
                t.size(1) == options_.attributes && t.size(0) == w.size(0),
            "the shifter expects latents [N, ", options_.latent, "] and requests [N, ",
            options_.attributes, "], got ", w.sizes(), " and ", t.sizes());
  return shift_net_of(net_).forward(w.to(device_, torch::kFloat), t.to(device_, torch::kFloat));
}

void check_shifter_fits(const Shifter& S, const Generator& G, const AttributeClassifier& A) {
  CFX_CHECK(S.options().latent == G.latent_dim(), "the shifter was trained for latents of size ",
            S.options().latent, " but the generator ", G.source, " has ", G.latent_dim(),
            "; train a shifter for it with ", train_call("shifter", {}));
  CFX_CHECK(S.options().attributes == A.size(), "the shifter was trained for ",
            S.options().attributes, " attributes but the attribute classifier ",
            A.net().info().source, " has ", A.size(), "; train a shifter for it");
  auto gs = G.output_shape();
  CFX_CHECK(gs == A.net().input_shape(), "the generator ", G.source, " makes [", gs[0], ", ", gs[1],
            ", ", gs[2], "] images but the attribute classifier takes [", A.net().input_shape()[0],
            ", ", A.net().input_shape()[1], ", ", A.net().input_shape()[2], "]");
}

json Shifter::train(Generator& G, AttributeClassifier& A, const ShifterTrainOptions& o) {
  o.validate();
  check_shifter_fits(*this, G, A);
  auto device = parse_device(o.device);
  seed_all(o.seed);
  // The initialisation is the seed's too: the constructor drew it from whatever state the
  // global generator had, so two runs with one seed trained different predictors.
  net_ = ShiftNet(options_).ptr();
  device_ = torch::kCPU;
  to(device);
  G.to(device);
  A.to(device);
  auto& net = shift_net_of(net_);
  net.train();
  auto params = net.parameters();
  torch::optim::Adam opt(params, torch::optim::AdamOptions(o.lr));
  auto excl = A.exclusive().to(torch::kFloat).to(device);
  ProgressBar bar("shifter", o.steps);
  double ema = 0;
  json curve = json::array();
  // Convergence checks on held-out latents (never trained on: the eval latents, or draws
  // from a stream of their own).
  json checks = json::array();
  double best = -1;
  int64_t since_best = 0, taken = o.steps;
  bool converged = false;
  torch::Tensor check_latents;
  if (o.check_every > 0) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + 2);
    check_latents = o.eval_latents.defined()
                        ? o.eval_latents.slice(0, 0, std::min(o.check_n, o.eval_latents.size(0)))
                        : torch::randn({o.check_n, options_.latent}, gen);
  }
  auto score_of = [](const json& rates) {
    double sum = 0;
    int n = 0;
    for (const char* k : {"mean_on_rate", "mean_off_rate", "mean_keep_rate"})
      if (!rates[k].is_null()) sum += rates[k].get<double>(), ++n;
    return n ? sum / n : 0.0;
  };
  for (int64_t step = 0; step < o.steps; ++step) {
    auto w = o.latents.defined()
                 ? o.latents
                       .index_select(
                           0, torch::randint(0, o.latents.size(0), {o.batch_size}, torch::kLong))
                       .to(device)
                 : torch::randn({o.batch_size, options_.latent}).to(device);
    torch::Tensor on;
    {
      torch::NoGradGuard ng;
      on = (A.logits(G.decode(w)) > 0).cpu();
    }
    auto t = random_requests(on, o.second).to(device);
    auto dw = net.forward(w, t);
    auto edited = G.decode(w + dw);
    auto logits = A.logits(edited);
    auto req = (t != 0).to(torch::kFloat);
    // Attributes exclusive with a requested one must be free to change (red on = green off).
    auto blocked = (torch::matmul(req, excl) > 0).to(torch::kFloat);
    auto keep = (1 - req) * (1 - blocked);
    auto target = torch::where(t != 0, (t + 1) / 2, on.to(device, torch::kFloat));
    auto bce = torch::binary_cross_entropy_with_logits(logits, target, {}, {}, at::Reduction::None);
    auto loss = (bce * req).sum() / req.sum().clamp_min(1) +
                o.keep_weight * (bce * keep).sum() / keep.sum().clamp_min(1) +
                o.beta * dw.norm(2, 1).mean();
    if (o.cycle_weight > 0 && G.has_encoder())
      loss = loss + o.cycle_weight * (G.encode(edited) - (w + dw)).pow(2).mean();
    // Gradients for S only: G and A stay frozen, and autograd skips their weights entirely.
    auto grads = torch::autograd::grad({loss}, params);
    for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i];
    opt.step();
    double l = loss.item<double>();
    ema = step == 0 ? l : 0.98 * ema + 0.02 * l;
    if ((step + 1) % 100 == 0 || step + 1 == o.steps) curve.push_back(ema);
    bar.update(step + 1);
    if (o.check_every > 0 && (step + 1) % o.check_every == 0 && step + 1 < o.steps) {
      net.eval();
      json rates = measure_shifter(*this, G, A, 0, 0, 256, check_latents);
      net.train();
      const double score = score_of(rates);
      checks.push_back({{"step", step + 1},
                        {"on", rates["mean_on_rate"]},
                        {"off", rates["mean_off_rate"]},
                        {"keep", rates["mean_keep_rate"]},
                        {"score", score}});
      if (score > best + o.tolerance) {
        best = score;
        since_best = 0;
      } else if (++since_best >= o.patience) {
        taken = step + 1;
        converged = true;
        break;
      }
    }
  }
  net.eval();
  json rates = measure_shifter(*this, G, A, o.eval_n, o.seed + 1, 256, o.eval_latents);
  char status[96];
  auto num = [](const json& v) { return v.is_null() ? NAN : v.get<double>(); };
  std::snprintf(status, sizeof status, "flip on %.2f off %.2f keep %.2f",
                num(rates["mean_on_rate"]), num(rates["mean_off_rate"]),
                num(rates["mean_keep_rate"]));
  bar.finish(status);
  json report = {{"loss_curve", curve}, {"final_loss", ema}, {"flip_rates", rates}};
  if (o.check_every > 0) {
    report["checks"] = checks;
    report["steps_taken"] = taken;
    report["converged"] = converged;
  }
  return report;
}

torch::Tensor intervene(Shifter& S, const torch::Tensor& w, int64_t k, const torch::Tensor& value,
                        double strength) {
  CFX_ASSERT(k >= 0 && k < S.options().attributes);
  torch::NoGradGuard ng;
  auto wd = w.to(S.device(), torch::kFloat);
  auto t = torch::zeros({w.size(0), S.options().attributes}, wd.options());
  t.select(1, k).copy_(value.to(wd.device(), torch::kFloat));
  return wd + strength * S.shift(wd, t);
}

json measure_shifter(Shifter& S, Generator& G, AttributeClassifier& A, int64_t n, uint64_t seed,
                     int64_t batch_size, const torch::Tensor& latents) {
  check_shifter_fits(S, G, A);
  torch::NoGradGuard ng;
  const int64_t K = A.size();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto w_all = latents.defined() ? latents.to(torch::kCPU, torch::kFloat)
                                 : torch::randn({n, G.latent_dim()}, gen);
  n = w_all.size(0);
  auto excl = A.exclusive();
  // Per attribute: [on successes, on trials, off successes, off trials, kept, keep trials, norm]
  std::vector<std::array<double, 7>> acc(K, std::array<double, 7>{});
  for (int64_t i = 0; i < n; i += batch_size) {
    auto w = w_all.slice(0, i, std::min(n, i + batch_size)).to(G.device());
    auto before = (A.logits(G.decode(w)) > 0).cpu();
    for (int64_t k = 0; k < K; ++k) {
      auto others = torch::ones({K}, torch::kBool);
      others[k] = false;
      others &= ~excl[k];
      for (int v : {1, -1}) {
        auto value = torch::full({w.size(0)}, static_cast<float>(v));
        auto w2 = intervene(S, w, k, value);
        auto after = (A.logits(G.decode(w2.to(G.device()))) > 0).cpu();
        auto eligible = v == 1 ? ~before.select(1, k) : before.select(1, k);
        auto hit = after.select(1, k) == (v == 1);
        int slot = v == 1 ? 0 : 2;
        acc[k][slot] += (hit & eligible).sum().item<double>();
        acc[k][slot + 1] += eligible.sum().item<double>();
        auto same = (after == before).index({torch::indexing::Slice(), others});
        acc[k][4] += same.sum().item<double>();
        acc[k][5] += static_cast<double>(same.numel());
        acc[k][6] += (w2.cpu() - w.cpu()).norm(2, 1).sum().item<double>();
      }
    }
  }
  json per = json::object();
  // Means over the attributes that had trials: an attribute A never sees on (say) has no
  // off-rate at all, which is not a rate of 0.
  double on = 0, off = 0, keep = 0, n_on = 0, n_off = 0;
  auto mean = [](double sum, double n) { return n > 0 ? json(sum / n) : json(nullptr); };
  for (int64_t k = 0; k < K; ++k) {
    auto rate = [](double a, double b) { return b > 0 ? json(a / b) : json(nullptr); };
    json r = {{"on_rate", rate(acc[k][0], acc[k][1])},   {"on_trials", acc[k][1]},
              {"off_rate", rate(acc[k][2], acc[k][3])},  {"off_trials", acc[k][3]},
              {"keep_rate", rate(acc[k][4], acc[k][5])}, {"shift_norm", acc[k][6] / (2.0 * n)}};
    if (!r["on_rate"].is_null()) on += r["on_rate"].get<double>(), ++n_on;
    if (!r["off_rate"].is_null()) off += r["off_rate"].get<double>(), ++n_off;
    keep += r["keep_rate"].is_null() ? 0.0 : r["keep_rate"].get<double>();
    per[A.names()[k]] = r;
  }
  return {{"attributes", per},
          {"samples", n},
          {"mean_on_rate", mean(on, n_on)},
          {"mean_off_rate", mean(off, n_off)},
          {"mean_keep_rate", mean(keep, static_cast<double>(K))}};
}

void Shifter::save(const std::string& path, json m) const {
  save_module(*net_, path);
  m["kind"] = "shifter";
  m["arch_options"] = options_.to_json();
  write_sidecar(path, m);
}

std::shared_ptr<Shifter> Shifter::load(const std::string& path) {
  json m = read_checkpoint_meta(path, "shifter", "shifter", "cfx train shifter");
  ShifterOptions o;
  try {
    o = ShifterOptions::from_json(m.at("arch_options"));
  } catch (const json::exception& e) {
    fail("shifter sidecar ", sidecar_path(path), " is invalid: ", e.what());
  }
  auto s = std::make_shared<Shifter>(o);
  load_module(*s->net_, path);
  s->net_->eval();
  s->meta = m;
  return s;
}

}  // namespace cfx
