#include "cfx/models/cvae.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn.h>
#include <torch/optim.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <tuple>

#include "cfx/core/batch_invariance.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/core/seed.h"
#include "cfx/core/surface.h"
#include "cfx/core/tensor.h"
#include "cfx/data/shapes.h"
#include "cfx/data/shapes_reader.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/companions.h"
#include "vae_net.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx {

void CvaeTrainOptions::validate() const {
  // 0: no training, only the held-out report (of a loaded cvae: `train cvae --init F --epochs 0`).
  CFX_CHECK(epochs >= 0 && epochs <= 10000, "invalid epochs: ", epochs);
  CFX_CHECK(batch_size >= 2, "invalid batch_size: ", batch_size,
            " (at least 2: requested attributes come from other items of the batch)");
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid learning rate: ", lr);
  CFX_CHECK(beta >= 0 && std::isfinite(beta), "invalid beta: ", beta, " (must be >= 0)");
  CFX_CHECK(attribute_weight >= 0 && std::isfinite(attribute_weight),
            "invalid attribute_weight: ", attribute_weight, " (must be >= 0)");
  CFX_CHECK(single >= 0 && single <= 1, "invalid single: ", single, " (use 0 to 1)");
  CFX_CHECK(fractional >= 0 && fractional <= 1, "invalid fractional: ", fractional,
            " (use 0 to 1)");
  CFX_CHECK(adversary >= 0 && std::isfinite(adversary), "invalid adversary: ", adversary,
            " (must be >= 0)");
  CFX_CHECK(realism >= 0 && std::isfinite(realism), "invalid realism: ", realism,
            " (must be >= 0)");
  CFX_CHECK(critic_lr >= 0 && std::isfinite(critic_lr), "invalid critic_lr: ", critic_lr,
            " (must be >= 0; 0: lr)");
  CFX_CHECK(paired >= 0 && std::isfinite(paired), "invalid paired: ", paired, " (must be >= 0)");
  CFX_CHECK(corners >= 0 && std::isfinite(corners), "invalid corners: ", corners,
            " (must be >= 0)");
  CFX_CHECK(edges >= 0 && std::isfinite(edges), "invalid edges: ", edges, " (must be >= 0)");
  CFX_CHECK(posterior_noise >= 0 && posterior_noise <= 1,
            "invalid posterior_noise: ", posterior_noise, " (must be in [0, 1])");
}

json CvaeTrainOptions::to_json() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"beta", beta},
          {"attribute_weight", attribute_weight},
          {"single", single},
          {"fractional", fractional},
          {"adversary", adversary},
          {"realism", realism},
          {"critic_lr", critic_lr},
          {"paired", paired},
          {"corners", corners},
          {"edges", edges},
          {"posterior_noise", posterior_noise},
          {"seed", seed},
          {"device", device}};
}

Cvae::Cvae(VaeOptions options, std::vector<std::string> attributes)
    : options_(options), attributes_(std::move(attributes)) {
  CFX_CHECK(!attributes_.empty(), "a conditional VAE needs at least one attribute");
  net_ = detail::make_vae_net(options_, static_cast<int64_t>(attributes_.size()));
}

std::vector<int64_t> Cvae::output_shape() const { return detail::vae_output_shape(options_); }

void Cvae::to(torch::Device device) {
  if (device == device_) return;  // side-by-side runs call it; moving rewrites the weights
  net_->to(device);
  device_ = device;
}

namespace {

void check_conditions(const torch::Tensor& a, int64_t n, int64_t k) {
  CFX_CHECK(a.dim() == 2 && a.size(0) == n && a.size(1) == k, "the cvae expects attributes [", n,
            ", ", k, "], got ", a.sizes());
}

std::pair<torch::Tensor, torch::Tensor> requests_of_units(
    const torch::Tensor& h, const std::vector<std::vector<int64_t>>& units, at::Generator& gen) {
  const int64_t n = h.size(0);
  auto out = h.to(torch::kFloat).contiguous().clone();
  auto mask = torch::zeros(h.sizes(), torch::kBool);
  auto pick = torch::randint(static_cast<int64_t>(units.size()), {n}, gen, torch::kLong);
  auto draw = torch::rand({n}, gen, torch::kDouble);
  auto o = out.accessor<float, 2>();
  auto m = mask.accessor<bool, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& u = units[static_cast<size_t>(pick[i].item<int64_t>())];
    for (int64_t k : u) m[i][k] = true;
    if (u.size() == 1) {
      o[i][u[0]] = 1 - o[i][u[0]];
      continue;
    }
    std::vector<int64_t> others;  // members not on now
    for (int64_t k : u)
      if (o[i][k] < 0.5f) others.push_back(k);
    if (others.empty()) others = u;
    auto chosen = others[std::min(others.size() - 1,
                                  static_cast<size_t>(draw[i].item<double>() * others.size()))];
    for (int64_t k : u) o[i][k] = k == chosen ? 1.f : 0.f;
  }
  return {out, mask};
}

// The realism critic: a PatchGAN-style discriminator (as in pix2pix and AIP's training) whose
// output is one logit per overlapping patch of about 10 x 10 pixels, [B, 1, H/4, W/4]: it judges
// local texture and edges, which is where a VAE's edits fall short (they blur).
torch::nn::Sequential patch_discriminator(int64_t channels) {
  namespace nn = torch::nn;
  auto leaky = [] { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)); };
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(channels, 32, 4).stride(2).padding(1)),
                        leaky(), nn::Conv2d(nn::Conv2dOptions(32, 64, 4).stride(2).padding(1)),
                        leaky(), nn::Conv2d(nn::Conv2dOptions(64, 1, 3).padding(1)));
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> one_unit_requests(const torch::Tensor& hard,
                                                          const AttributeClassifier& D,
                                                          at::Generator& gen) {
  CFX_CHECK(hard.dim() == 2 && hard.size(1) == static_cast<int64_t>(D.names().size()),
            "attribute requests need [n, ", D.names().size(), "] attributes, got ", hard.sizes());
  return requests_of_units(hard.cpu(), D.units(), gen);
}

torch::Tensor Cvae::encode(const torch::Tensor& x, const torch::Tensor& a) {
  check_conditions(a, x.dim() > 0 ? x.size(0) : -1, static_cast<int64_t>(attributes_.size()));
  return detail::encode_mean(detail::net_of(net_), device_, x, a, "the cvae");
}

torch::Tensor Cvae::decode(const torch::Tensor& z, const torch::Tensor& a) {
  check_conditions(a, z.dim() > 0 ? z.size(0) : -1, static_cast<int64_t>(attributes_.size()));
  return detail::decode_images(detail::net_of(net_), device_, z, a, "the cvae");
}

json Cvae::train(const Dataset& train, const Dataset& test, AttributeClassifier& D,
                 const CvaeTrainOptions& o, const TrueEdits& true_edits) {
  o.validate();
  CFX_CHECK(o.paired == 0 || true_edits,
            "paired edits need the true edits of the training images (only generated data, "
            "shapes, has them)");
  CFX_CHECK(o.corners == 0 || shapes_reading_for(attributes_, output_shape()).has_value(),
            "the corner term needs shapes images and the 11 shapes attributes in their order");
  CFX_CHECK(train.images.dim() == 4 && train.images.size(1) == options_.channels &&
                train.images.size(2) == options_.height && train.images.size(3) == options_.width,
            "dataset images are ", train.images.sizes(), ", the cvae was built for [N, ",
            options_.channels, ", ", options_.height, ", ", options_.width, "]");
  CFX_CHECK(D.names() == attributes_,
            "the attribute classifier's attributes differ from the "
            "cvae's");
  auto device = parse_device(o.device);
  to(device);
  D.to(device);
  seed_all(o.seed);
  auto& net = detail::net_of(net_);
  // a0 = D(x) as at explanation time; the requested a' are hard 0/1 attributes.
  auto a_train = D.probs(train.images).cpu();
  net.train();
  auto params = net.parameters();
  for (auto& p : params) p.set_requires_grad(true);  // a loaded cvae comes frozen
  torch::optim::Adam opt(params, torch::optim::AdamOptions(o.lr));
  const auto units = D.units();
  const auto K = static_cast<int64_t>(attributes_.size());
  auto request_gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + 7);
  // The z-adversary: reads D(x)'s hard attributes from z; trained on its own. Made only when
  // used, so that recipes without it draw the same random numbers as before it existed.
  torch::nn::Sequential adversary;
  std::optional<torch::optim::Adam> adversary_opt;
  if (o.adversary > 0) {
    adversary = torch::nn::Sequential(torch::nn::Linear(options_.latent, 64), torch::nn::ReLU(),
                                      torch::nn::Linear(64, K));
    adversary->to(device);
    adversary_opt.emplace(adversary->parameters(), torch::optim::AdamOptions(o.lr));
  }
  // The realism critic, likewise made only when used.
  torch::nn::Sequential critic;
  std::optional<torch::optim::Adam> critic_opt;
  if (o.realism > 0) {
    critic = patch_discriminator(options_.channels);
    critic->to(device);
    // β1 = 0.5, as GANs are usually trained: momentum from the generator's past moves
    // destabilises the min-max game.
    critic_opt.emplace(critic->parameters(),
                       torch::optim::AdamOptions(o.critic_lr > 0 ? o.critic_lr : o.lr)
                           .betas(std::make_tuple(0.5, 0.999)));
  }
  const int64_t n = train.size(), per_epoch = (n + o.batch_size - 1) / o.batch_size;
  ProgressBar bar("cvae", o.epochs * per_epoch);
  double last_epoch_loss = 0;
  // The training curve: each epoch's mean of the loss and of its terms (per item).
  json curve = json::array();
  for (int64_t e = 0, step = 0; e < o.epochs; ++e) {
    auto perm = torch::randperm(n, torch::kLong);
    double sum = 0, sum_rec = 0, sum_kl = 0, sum_attr = 0, sum_real = 0, sum_critic = 0;
    double sum_paired = 0, sum_corners = 0, sum_edges = 0;
    int64_t paired_items = 0;
    for (int64_t b = 0; b < per_epoch; ++b, ++step) {
      auto idx = perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size));
      auto xb = train.images.index_select(0, idx).to(device);
      auto ab = a_train.index_select(0, idx).to(device);
      auto t = detail::elbo_terms(net, xb, ab, o.posterior_noise);
      // Attributes of other items keep exclusive groups consistent (one shape, one colour).
      auto other = torch::randperm(idx.size(0), torch::kLong).to(device);
      auto wanted = (ab.index_select(0, other) > 0.5).to(torch::kFloat);
      const int64_t B = idx.size(0);
      if (o.single > 0) {
        auto one = requests_of_units((ab > 0.5).cpu(), units, request_gen).first.to(device);
        auto use = (torch::rand({B, 1}, request_gen) < o.single).to(device);
        wanted = torch::where(use, one, wanted);
      }
      if (o.fractional > 0) {
        auto u = torch::rand({B, 1}, request_gen);
        u = torch::where(torch::rand({B, 1}, request_gen) < o.fractional, u, torch::ones_like(u));
        wanted = ab + u.to(device) * (wanted - ab);
      }
      auto edited_logits = net.decode_logits(t.z, wanted);
      auto edited = torch::sigmoid(edited_logits);
      auto shown = D.logits(edited);
      auto attr =
          torch::binary_cross_entropy_with_logits(shown, wanted, {}, {}, at::Reduction::None)
              .sum(1);
      auto loss = (t.rec + o.beta * t.kl + o.attribute_weight * attr).mean();
      if (o.adversary > 0) {
        // E makes the adversary's guess uninformative (0.5), rather than wrong: maximising
        // its error would only move the information, not remove it.
        auto guess = adversary->forward(t.z);
        loss = loss +
               o.adversary * torch::binary_cross_entropy_with_logits(
                                 guess, torch::full_like(guess, 0.5), {}, {}, at::Reduction::None)
                                 .sum(1)
                                 .mean();
      }
      if (o.paired > 0) {
        // The true edit teaches G what D alone cannot: D accepts edits that only look like a'
        // to it (a blob D calls a square), the renderer's edit is the square itself.
        auto [target, ok] = true_edits(idx, (wanted > 0.5).to(torch::kFloat).cpu());
        CFX_CHECK(target.sizes() == xb.sizes() && ok.numel() == B, "true edits returned ",
                  target.sizes(), " for a batch of ", xb.sizes());
        auto use = ok.to(device, torch::kBool) & (wanted.eq(0) | wanted.eq(1)).all(1);
        auto per = torch::binary_cross_entropy_with_logits(edited_logits, target.to(device), {}, {},
                                                           at::Reduction::None)
                       .flatten(1)
                       .sum(1);
        auto total = (per * use.to(per.dtype())).sum();
        loss = loss + o.paired * total / static_cast<double>(B);
        paired_items += use.sum().item<int64_t>();
        sum_paired += total.item<double>();
      }
      if (o.corners > 0) {
        // D accepts a blob for a square; the harmonics do not. Requests with one shape only
        // (0/1), so the target is the renderer's shape (circle, square, triangle: 0, 1, 2).
        auto shape = wanted.slice(1, 0, 3);
        auto use = ((shape.eq(0) | shape.eq(1)).all(1) & shape.sum(1).eq(1)).to(edited.dtype());
        auto [third, fourth] = shapes_polygon_harmonics(edited);
        auto per = (third - shape.select(1, 2)).pow(2) + (fourth - shape.select(1, 1)).pow(2);
        auto total = (per * use).sum() / static_cast<double>(B);
        loss = loss + o.corners * total;
        sum_corners += total.item<double>();
      }
      if (o.edges > 0) {
        auto mean = edge_difference(torch::sigmoid(t.logits), xb).mean();
        loss = loss + o.edges * mean;
        sum_edges += mean.item<double>();
      }
      if (o.realism > 0) {
        // Non-saturating: G raises the critic's log-probability that its edits are real.
        auto judged = critic->forward(edited);
        auto fooled = torch::binary_cross_entropy_with_logits(judged, torch::ones_like(judged), {},
                                                              {}, at::Reduction::None)
                          .mean({1, 2, 3})
                          .mean();
        loss = loss + o.realism * fooled;
        sum_real += fooled.item<double>();
      }
      // Gradients for E and G only: D stays frozen and untouched.
      auto grads = torch::autograd::grad({loss}, params);
      for (size_t k = 0; k < params.size(); ++k) params[k].mutable_grad() = grads[k];
      torch::nn::utils::clip_grad_norm_(params, 10.0);
      opt.step();
      if (o.adversary > 0) {
        adversary_opt->zero_grad();
        torch::binary_cross_entropy_with_logits(adversary->forward(t.z.detach()),
                                                (ab > 0.5).to(torch::kFloat))
            .backward();
        adversary_opt->step();
      }
      if (o.realism > 0) {
        critic_opt->zero_grad();
        auto real = critic->forward(xb), fake = critic->forward(edited.detach());
        auto critic_loss = torch::binary_cross_entropy_with_logits(real, torch::ones_like(real)) +
                           torch::binary_cross_entropy_with_logits(fake, torch::zeros_like(fake));
        critic_loss.backward();
        critic_opt->step();
        sum_critic += critic_loss.item<double>();
      }
      sum += loss.item<double>();
      sum_rec += t.rec.mean().item<double>();
      sum_kl += t.kl.mean().item<double>();
      sum_attr += attr.mean().item<double>();
      bar.update(step + 1);
    }
    last_epoch_loss = sum / per_epoch;
    const auto m = static_cast<double>(per_epoch);
    json point = {{"epoch", e + 1},
                  {"loss", sum / m},
                  {"reconstruction", sum_rec / m},
                  {"kl", sum_kl / m},
                  {"attribute", sum_attr / m}};
    if (o.realism > 0) {
      point["realism"] = sum_real / m;   // G's non-saturating term, before its weight
      point["critic"] = sum_critic / m;  // the discriminator's loss (ln 4 ≈ 1.39: chance)
    }
    if (o.paired > 0) {
      // Per paired item (BCE summed over pixels, as "reconstruction"), and how many were.
      point["paired"] = paired_items > 0 ? sum_paired / static_cast<double>(paired_items) : 0.0;
      point["paired_share"] = static_cast<double>(paired_items) / static_cast<double>(n);
    }
    if (o.corners > 0) point["corners"] = sum_corners / m;  // per item, before its weight
    if (o.edges > 0) point["edges"] = sum_edges / m;        // per item, before its weight
    curve.push_back(point);
  }
  net.eval();

  auto probs_of = [&](const torch::Tensor& xb) { return D.probs(xb).to(device); };
  auto [mse, kl] = detail::recon_mse_and_kl(net, test.images, device, probs_of);
  torch::NoGradGuard ng;
  auto x = test.images.slice(0, 0, std::min<int64_t>(test.size(), 2000));
  auto a = D.probs(x).cpu();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + 1);
  auto wanted =
      (a.index_select(0, torch::randperm(a.size(0), gen, torch::kLong)) > 0.5).to(torch::kFloat);
  // The held-out codes, encoded once (the mean, so every use below sees the same z).
  std::vector<torch::Tensor> codes;
  for (int64_t i = 0; i < x.size(0); i += 256) {
    int64_t j = std::min(x.size(0), i + 256);
    codes.push_back(encode(x.slice(0, i, j), a.slice(0, i, j)));
  }
  // Rows [i, j) of the k-th 256-row slice, as the loops below walk them.
  auto slices = [&](auto&& body) {
    for (size_t k = 0; k < codes.size(); ++k) {
      int64_t i = static_cast<int64_t>(k) * 256, j = std::min(x.size(0), i + 256);
      body(codes[k], i, j);
    }
  };
  // On shapes the same edits are also read from their pixels (data/shapes_reader.h): D is what
  // G was trained to satisfy, so G can satisfy it without drawing the attribute.
  const auto drawn = shapes_reading_for(attributes_, output_shape());
  const bool shapes = test.factors.defined() && drawn.has_value();
  auto read = [&](const torch::Tensor& images) { return read_shapes(images, *drawn); };
  std::vector<torch::Tensor> seen, edits, pixels_seen, edit_polygon;
  slices([&](const torch::Tensor& z, int64_t i, int64_t j) {
    edits.push_back(decode(z, wanted.slice(0, i, j)).cpu());
    seen.push_back(D.probs(edits.back()).cpu() > 0.5);
    if (shapes) {
      auto r = read(edits.back());
      pixels_seen.push_back(r.attributes > 0.5);
      edit_polygon.push_back(r.polygon);
    }
  });
  auto all_edits = torch::cat(edits);
  auto match = (torch::cat(seen) == (wanted > 0.5)).to(torch::kDouble);
  auto changed = (wanted > 0.5) != (a > 0.5);
  auto rate = [](const torch::Tensor& m, const torch::Tensor& where) -> json {
    auto sel = m.masked_select(where);
    return sel.numel() ? json(sel.mean().item<double>()) : json(nullptr);
  };
  // Per attribute k: the rate of m's column k where `where`'s column k holds.
  auto per_attribute = [&](const torch::Tensor& m, const torch::Tensor& where) {
    json per = json::object();
    for (size_t k = 0; k < attributes_.size(); ++k)
      per[attributes_[k]] = rate(m.select(1, k), where.select(1, k));
    return per;
  };
  json per = per_attribute(match, changed);
  // Leakage and fractional control: one-unit requests from D(x) of each test image.
  // Plain tensors, not a structured binding: the lambda below uses them (C++17 cannot
  // capture a binding; clang refuses it).
  torch::Tensor one, unit;
  std::tie(one, unit) = requests_of_units((a > 0.5), units, gen);
  std::vector<torch::Tensor> base_seen, one_seen, half_seen, base_pixels, one_pixels, base_polygon;
  auto half = a + 0.5 * (one - a);
  slices([&](const torch::Tensor& z, int64_t i, int64_t j) {
    // On the device, as D reads them; the reader copies them to the CPU itself.
    auto base = decode(z, a.slice(0, i, j)), edit = decode(z, one.slice(0, i, j));
    base_seen.push_back(D.probs(base).cpu());
    one_seen.push_back(D.probs(edit).cpu());
    half_seen.push_back(D.probs(decode(z, half.slice(0, i, j))).cpu());
    if (shapes) {
      auto r = read(base);
      base_pixels.push_back(r.attributes);
      base_polygon.push_back(r.polygon);
      one_pixels.push_back(read(edit).attributes);
    }
  });
  // Per edit, how many attributes outside the request read differently than in G(z, a0).
  auto leakage_of = [&](const std::vector<torch::Tensor>& before,
                        const std::vector<torch::Tensor>& after) -> json {
    auto flipped = ((torch::cat(after) > 0.5) != (torch::cat(before) > 0.5)) & ~unit;
    auto flips = flipped.sum(1).to(torch::kDouble);
    return {{"mean_other_flips", flips.mean().item<double>()},
            {"rate", (flips > 0).to(torch::kDouble).mean().item<double>()},
            // Per attribute: how often it changes in edits that do not request it.
            {"per_attribute", per_attribute(flipped.to(torch::kDouble), ~unit)},
            {"n", x.size(0)}};
  };
  auto half_error = (torch::cat(half_seen) - half).abs().masked_select(unit);
  json leakage = leakage_of(base_seen, one_seen);
  json report = {{"train_loss", o.epochs > 0 ? json(last_epoch_loss) : json()},
                 {"curve", curve},
                 {"test_recon_mse", mse},
                 {"test_kl", kl},
                 {"attribute_control",
                  {{"all", match.mean().item<double>()},
                   {"changed", rate(match, changed)},
                   {"changed_per_attribute", per},
                   {"n", x.size(0)}}},
                 {"leakage", leakage},
                 {"fractional_error", half_error.mean().item<double>()},
                 {"sharpness",
                  (total_variation(all_edits).mean() / total_variation(x).mean()).item<double>()}};
  if (shapes) {
    // The reader's own agreement with the renderer on these real images says how far its
    // numbers on G's edits can be trusted.
    auto truth = test.attributes.slice(0, 0, x.size(0)) > 0.5;
    auto pixel_match = (torch::cat(pixels_seen) == (wanted > 0.5)).to(torch::kDouble);
    auto real = read(x);
    report["by_pixels"] = {
        {"reader_agreement_on_real",
         (real.attributes > 0.5).eq(truth).to(torch::kDouble).mean().item<double>()},
        {"attribute_control",
         {{"all", pixel_match.mean().item<double>()},
          {"changed", rate(pixel_match, changed)},
          {"changed_per_attribute", per_attribute(pixel_match, changed)},
          {"n", x.size(0)}}},
        {"leakage", leakage_of(base_pixels, one_pixels)}};
    // G's reconstructions G(z, a0) read against the truth: whether G can draw the attribute at
    // all, apart from whether it follows a request (a square drawn as a blob reads as a circle;
    // the reader reads blurred shapes as drawn, tests/data/test_shapes_reader.cpp).
    auto recon_match = (torch::cat(base_pixels) > 0.5).eq(truth).to(torch::kDouble);
    auto every = torch::ones_like(truth);
    report["by_pixels"]["reconstruction_agreement"] = {
        {"all", recon_match.mean().item<double>()},
        {"per_attribute", per_attribute(recon_match, every)},
        {"n", x.size(0)}};
    // How crisp G's squares and triangles are (ShapesReading::polygon: 1 is the renderer's
    // corner, the reader calls a polygon from 0.4): real ones, G's reconstructions of them, and
    // edits that ask a non-polygon for a square or triangle. The reader is lenient here where
    // a classifier trained on crisp corners need not be (docs/models.md).
    auto is_polygon = [](const torch::Tensor& attributes) {
      return (attributes.slice(1, 1, 3) > 0.5).any(1);
    };
    auto mean_where = [&](const torch::Tensor& v, const torch::Tensor& where) -> json {
      return {{"mean", rate(v.to(torch::kDouble), where)}, {"n", where.sum().item<int64_t>()}};
    };
    auto drawn_polygons = is_polygon(truth);
    report["by_pixels"]["polygon_strength"] = {
        {"real", mean_where(real.polygon, drawn_polygons)},
        {"reconstructions", mean_where(torch::cat(base_polygon), drawn_polygons)},
        {"edits_to_polygon",
         mean_where(torch::cat(edit_polygon), is_polygon(wanted) & ~drawn_polygons)}};
  }
  // An untrained critic or adversary would only report chance.
  if (o.realism > 0 && o.epochs > 0) {
    critic->eval();
    auto score = [&](const torch::Tensor& images) {
      std::vector<torch::Tensor> s;
      for (int64_t i = 0; i < images.size(0); i += 256)
        s.push_back(
            critic->forward(images.slice(0, i, std::min(images.size(0), i + 256)).to(device))
                .mean({1, 2, 3})
                .cpu());
      return torch::cat(s);
    };
    auto right = torch::cat({score(x) > 0, score(all_edits) < 0}).to(torch::kDouble);
    report["discriminator_accuracy"] = right.mean().item<double>();
  }
  if (o.adversary > 0 && o.epochs > 0) {
    std::vector<torch::Tensor> guesses;
    for (auto& z : codes) guesses.push_back(adversary->forward(z.to(device)).cpu() > 0);
    auto truth = a > 0.5;
    auto share_on = truth.to(torch::kDouble).mean(0);
    report["z_adversary_accuracy"] =
        (torch::cat(guesses) == truth).to(torch::kDouble).mean().item<double>();
    report["z_majority_accuracy"] = torch::max(share_on, 1 - share_on).mean().item<double>();
  }
  char status[128];
  std::snprintf(status, sizeof status, "test recon MSE %.4f, attribute control %.3f (changed)", mse,
                report["attribute_control"]["changed"].is_null()
                    ? 0.0
                    : report["attribute_control"]["changed"].get<double>());
  bar.finish(status);
  return report;
}

void Cvae::save(const std::string& path, json meta) const {
  meta["attribute_names"] = attributes_;
  detail::save_vae(*net_, options_, path, std::move(meta), "cvae");
}

std::shared_ptr<Cvae> Cvae::load(const std::string& path) {
  json meta = read_checkpoint_meta(path, "cvae", "cvae", "cfx train cvae");
  std::shared_ptr<Cvae> c;
  try {
    c = std::make_shared<Cvae>(VaeOptions::from_json(meta.at("arch_options")),
                               meta.at("attribute_names").get<std::vector<std::string>>());
  } catch (const json::exception& e) {
    fail("cvae sidecar ", sidecar_path(path), " is invalid: ", e.what());
  }
  load_module(*c->net_, path);
  c->net_->eval();
  c->meta = meta;
  c->source = path;
  return c;
}

AipModels load_aip_models(const std::string& cvae, const std::string& attributes,
                          const Classifier* F) {
  AipModels m;
  m.cvae_path = cvae;
  if (m.cvae_path.empty()) {
    CFX_CHECK(F != nullptr && !F->info().dataset.empty() && !F->info().source.empty(),
              "no cvae given: pass cvae=FILE (train one with ", train_call("cvae", {}), ")");
    m.cvae_path = companion_path(*F, "cvae");
    CFX_CHECK(is_file(m.cvae_path), "no cvae given and none beside the model (", m.cvae_path,
              "): pass cvae=FILE (train one with ", train_call("cvae", {}), ")");
  }
  m.cvae = Cvae::load(m.cvae_path);
  m.attributes_path = attributes;
  if (m.attributes_path.empty()) {
    m.attributes_path = m.cvae->meta.value("attributes", "");
    CFX_CHECK(!m.attributes_path.empty(), "the cvae ", m.cvae_path,
              " does not record its attribute classifier; pass attributes=FILE");
    m.attributes_path = recorded_path(m.attributes_path, m.cvae_path);
  }
  m.attributes = load_attribute_classifier(m.attributes_path);
  CFX_CHECK(m.attributes->names() == m.cvae->attributes(), "the attribute classifier ",
            m.attributes_path, " does not have the attributes the cvae ", m.cvae_path,
            " was trained with");
  auto gs = m.cvae->output_shape();
  auto as = m.attributes->net().input_shape();
  CFX_CHECK(gs == as, "the cvae ", m.cvae_path, " makes [", gs[0], ", ", gs[1], ", ", gs[2],
            "] images but the attribute classifier ", m.attributes_path, " reads [", as[0], ", ",
            as[1], ", ", as[2], "]");
  if (F != nullptr) {
    const auto& fs_ = F->input_shape();
    CFX_CHECK(gs == fs_, "the cvae ", m.cvae_path, " makes [", gs[0], ", ", gs[1], ", ", gs[2],
              "] images but the classifier ", F->info().source, " takes [", fs_[0], ", ", fs_[1],
              ", ", fs_[2], "]; use a cvae trained on the classifier's domain");
  }
  return m;
}

}  // namespace cfx
