#include "cfx/models/train.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <set>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/progress.h"
#include "cfx/core/seed.h"
#include "cfx/core/surface.h"
#include "cfx/core/tensor.h"
#include "cfx/models/loss_inputs.h"

using nlohmann::json;

namespace cfx {

void TrainOptions::validate() const {
  CFX_CHECK(epochs >= 1 && epochs <= 10000, "invalid epochs: ", epochs);
  CFX_CHECK(batch_size >= 1, "invalid batch_size: ", batch_size);
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid learning rate: ", lr);
  CFX_CHECK(weight_decay >= 0, "invalid weight_decay: ", weight_decay);
  CFX_CHECK(shift >= 0 && shift <= 8, "invalid shift: ", shift, " (use 0..8)");
  CFX_CHECK(blur >= 0 && blur <= 4, "invalid blur: ", blur, " (use [0, 4] pixels)");
  CFX_CHECK(blur == 0 || augment, "blur ", blur, " needs augment (it is an augmentation)");
  CFX_CHECK(duq_weight >= 0 && std::isfinite(duq_weight), "invalid duq_weight: ", duq_weight);
  CFX_CHECK(duq_gp_weight >= 0 && std::isfinite(duq_gp_weight),
            "invalid duq_gp_weight: ", duq_gp_weight);
  CFX_CHECK(duq_gp_every >= 1, "invalid duq_gp_every: ", duq_gp_every, " (use >= 1)");
  CFX_CHECK(duq_gamma > 0 && duq_gamma < 1, "invalid duq_gamma: ", duq_gamma, " (use (0, 1))");
  CFX_CHECK(loss_weight >= 0 && std::isfinite(loss_weight), "invalid loss_weight: ", loss_weight);
  CFX_CHECK(loss_margin >= 0 && std::isfinite(loss_margin), "invalid loss_margin: ", loss_margin);
  CFX_CHECK(loss_mse_weight >= 0 && std::isfinite(loss_mse_weight),
            "invalid loss_mse_weight: ", loss_mse_weight);
  CFX_CHECK(loss_perturbed >= 0 && loss_perturbed <= 4, "invalid loss_perturbed: ", loss_perturbed,
            " (use [0, 4])");
}

json TrainOptions::to_json() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"weight_decay", weight_decay},
          {"augment", augment},
          {"shift", shift},
          {"flip", flip},
          {"blur", blur},
          {"seed", seed},
          {"device", device},
          {"duq_weight", duq_weight},
          {"duq_gp_weight", duq_gp_weight},
          {"duq_gp_every", duq_gp_every},
          {"duq_gamma", duq_gamma},
          {"loss_weight", loss_weight},
          {"loss_margin", loss_margin},
          {"loss_mse_weight", loss_mse_weight},
          {"loss_perturbed", loss_perturbed},
          {"head_only", head_only}};
}

json TrainReport::to_json() const {
  return {{"train_loss", train_loss},
          {"train_accuracy", train_accuracy},
          {"test_accuracy", test_accuracy},
          {"seconds", seconds},
          {"head", head},
          {"epochs", epochs}};
}

std::pair<std::vector<double>, std::vector<double>> channel_stats(const torch::Tensor& images) {
  auto x = images.to(torch::kDouble);
  auto mean = x.mean({0, 2, 3});
  auto sd = x.std({0, 2, 3}).clamp_min(1e-3);
  return {to_vector<double>(mean), to_vector<double>(sd)};
}

namespace {

// Random shifts (replicate padding, so coloured backgrounds stay coloured), optional flips
// and optional blur, drawn per item from torch's seeded generator.
torch::Tensor augment_batch(const torch::Tensor& x, const TrainOptions& o) {
  auto out = x;
  if (o.shift > 0) {
    int64_t s = o.shift, h = x.size(2), w = x.size(3);
    auto padded = torch::replication_pad2d(x, {s, s, s, s});
    auto offs = torch::randint(0, 2 * s + 1, {x.size(0), 2}, torch::kLong);
    auto acc = offs.accessor<int64_t, 2>();
    std::vector<torch::Tensor> items;
    items.reserve(x.size(0));
    for (int64_t i = 0; i < x.size(0); ++i)
      items.push_back(
          padded[i].slice(1, acc[i][0], acc[i][0] + h).slice(2, acc[i][1], acc[i][1] + w));
    out = torch::stack(items);
  }
  if (o.flip) {
    auto mask = (torch::rand({x.size(0)}) < 0.5).view({-1, 1, 1, 1}).to(out.device());
    out = torch::where(mask, out.flip({3}), out);
  }
  if (o.blur > 0) out = gaussian_blur(out, torch::rand({x.size(0)}).mul(o.blur).to(out.device()));
  return out;
}

// net's logits of images in pixel space ([N, C, H, W] in [0, 1]), as perturb_for_loss_head
// asks for them.
std::function<torch::Tensor(const torch::Tensor&)> pixel_logits(ZooNetImpl& net,
                                                                const std::vector<double>& mean,
                                                                const std::vector<double>& std) {
  return [&net, &mean, &std](const torch::Tensor& t) {
    return net.forward(normalize_channels(t, mean, std));
  };
}

}  // namespace

double evaluate_accuracy(ZooNetImpl& net, const Dataset& data, const std::vector<double>& mean,
                         const std::vector<double>& std, torch::Device device) {
  torch::NoGradGuard no_grad;
  bool was_training = net.is_training();
  net.eval();
  int64_t correct = 0;
  for (int64_t i = 0; i < data.size(); i += 512) {
    int64_t j = std::min(i + 512, data.size());
    auto x = normalize_channels(data.images.slice(0, i, j).to(device), mean, std);
    auto pred = net.forward(x).argmax(1).cpu();
    correct += pred.eq(data.labels.slice(0, i, j)).sum().item<int64_t>();
  }
  net.train(was_training);
  return data.size() ? static_cast<double>(correct) / data.size() : 0.0;
}

namespace {

// The DUQ kernel K [N, C] and the softmax probabilities [N, C] of `net` (eval mode) on images.
std::pair<torch::Tensor, torch::Tensor> duq_and_softmax(ZooNetImpl& net,
                                                        const torch::Tensor& images,
                                                        const std::vector<double>& mean,
                                                        const std::vector<double>& std,
                                                        torch::Device device) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> ks, ps;
  for (int64_t i = 0; i < images.size(0); i += 512) {
    auto x = images.slice(0, i, std::min(i + 512, images.size(0))).to(device);
    Tap tap;
    net.want_head_inputs(tap);
    auto logits = net.forward(normalize_channels(x, mean, std), &tap);
    ks.push_back(net.duq_head()->forward(tap.features.at(net.embedding_name())).cpu());
    ps.push_back(torch::softmax(logits, 1).cpu());
  }
  return {torch::cat(ks), torch::cat(ps)};
}

// AUROC of `score` [N] with the items where `positive` [N] holds as positives; NaN when one
// side is empty (a classifier with no mistakes on the split).
double auroc_or_nan(const torch::Tensor& score, const torch::Tensor& positive) {
  auto pos = score.masked_select(positive), neg = score.masked_select(~positive);
  return pos.numel() && neg.numel() ? auroc(pos, neg) : std::nan("");
}

json evaluate_duq(ZooNetImpl& net, const Dataset& data, const std::vector<double>& mean,
                  const std::vector<double>& std, torch::Device device, const Dataset* ood) {
  auto [k, p] = duq_and_softmax(net, data.images, mean, std, device);
  auto max_k = std::get<0>(k.max(1));
  auto max_p = std::get<0>(p.max(1));
  auto right = p.argmax(1).eq(data.labels);
  json r = {{"duq_accuracy", k.argmax(1).eq(data.labels).to(torch::kDouble).mean().item<double>()},
            {"duq_mean_max_k", max_k.mean().item<double>()},
            {"duq_auroc_errors", auroc_or_nan(max_k, right)},
            {"softmax_auroc_errors", auroc_or_nan(max_p, right)}};
  if (ood && ood->size()) {
    auto [k_o, p_o] = duq_and_softmax(net, ood->images, mean, std, device);
    auto max_k_o = std::get<0>(k_o.max(1));
    r["ood_items"] = ood->size();
    r["duq_mean_max_k_ood"] = max_k_o.mean().item<double>();
    r["duq_auroc_ood"] = auroc(max_k, max_k_o);
    r["softmax_auroc_ood"] = auroc(max_p, std::get<0>(p_o.max(1)));
  }
  return r;
}

}  // namespace

json evaluate_head(ZooNetImpl& net, const Dataset& data, const std::vector<double>& mean,
                   const std::vector<double>& std, torch::Device device, const Dataset* ood) {
  if (net.head() == "linear" || data.size() == 0) return json::object();
  bool was_training = net.is_training();
  net.eval();
  if (net.head() == "duq") {
    auto r = evaluate_duq(net, data, mean, std, device, ood);
    net.train(was_training);
    return r;
  }
  // A fixed draw, so that reports of different trainings compare the same kind of inputs.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(20261201);
  std::vector<torch::Tensor> outs, losses, outs_p, losses_p;
  for (int64_t i = 0; i < data.size(); i += 512) {
    int64_t j = std::min(i + 512, data.size());
    auto x = data.images.slice(0, i, j).to(device);
    auto y = data.labels.slice(0, i, j).to(device);
    auto score = [&](const torch::Tensor& images, std::vector<torch::Tensor>& out,
                     std::vector<torch::Tensor>& loss) {
      torch::NoGradGuard no_grad;
      Tap tap;
      net.want_head_inputs(tap);
      auto logits = net.forward(normalize_channels(images, mean, std), &tap);
      loss.push_back(torch::cross_entropy_loss(logits, y, {}, at::Reduction::None).cpu());
      out.push_back(net.estimate_loss(tap).cpu());
      return logits.size(1);
    };
    int64_t classes = score(x, outs, losses);
    score(perturb_for_loss_head(pixel_logits(net, mean, std), x, y, classes, gen), outs_p,
          losses_p);
  }
  net.train(was_training);
  auto out = torch::cat(outs);
  auto loss = torch::cat(losses);
  auto out_p = torch::cat(outs_p), loss_p = torch::cat(losses_p);
  return {{"loss_rank_correlation", rank_correlation(out, loss)},
          {"loss_estimate_mean", out.mean().item<double>()},
          {"loss_mean", loss.mean().item<double>()},
          {"loss_rank_correlation_perturbed", rank_correlation(out_p, loss_p)},
          {"loss_rank_correlation_clean_and_perturbed",
           rank_correlation(torch::cat({out, out_p}), torch::cat({loss, loss_p}))},
          {"loss_estimate_mean_perturbed", out_p.mean().item<double>()},
          {"loss_mean_perturbed", loss_p.mean().item<double>()}};
}

namespace {

// The parameters of net's auxiliary head (none for head "linear").
std::vector<torch::Tensor> head_parameters(ZooNetImpl& net) {
  if (net.head() == "duq") return net.duq_head()->parameters();
  if (net.head() == "loss") return net.loss_head()->parameters();
  return {};
}

// Keeps every parameter outside the auxiliary head frozen while it lives (head-only training).
class FreezeBackbone {
 public:
  FreezeBackbone(ZooNetImpl& net, bool active) {
    if (!active) return;
    std::set<const void*> head;
    for (const auto& p : head_parameters(net)) head.insert(p.unsafeGetTensorImpl());
    for (auto& p : net.parameters())
      if (!head.count(p.unsafeGetTensorImpl()) && p.requires_grad()) {
        p.requires_grad_(false);
        frozen_.push_back(p);
      }
  }
  ~FreezeBackbone() {
    for (auto& p : frozen_) p.requires_grad_(true);
  }
  FreezeBackbone(const FreezeBackbone&) = delete;
  FreezeBackbone& operator=(const FreezeBackbone&) = delete;

 private:
  std::vector<torch::Tensor> frozen_;
};

// The loss estimator's predictions s [M] on perturbed copies of a batch (pixels [N, C, H, W],
// labels y [N]; M = round(ratio * N), rows repeated when ratio > 1) and the classifier's
// per-sample cross-entropy on them against the original labels [M]. The forward runs in eval
// mode, so perturbed images never enter the BN statistics.
std::pair<torch::Tensor, torch::Tensor> perturbed_losses(
    ZooNetImpl& net, const torch::Tensor& pixels, const torch::Tensor& y, int64_t classes,
    double ratio, const std::vector<double>& mean, const std::vector<double>& std,
    at::Generator& gen) {
  const int64_t n = pixels.size(0);
  const int64_t m = std::max<int64_t>(1, std::llround(ratio * static_cast<double>(n)));
  auto rows = (torch::arange(m, torch::kLong) % n).to(pixels.device());
  auto y_rows = y.index_select(0, rows);
  bool was_training = net.is_training();
  net.eval();
  auto perturbed = perturb_for_loss_head(pixel_logits(net, mean, std), pixels.index_select(0, rows),
                                         y_rows, classes, gen);
  Tap tap;
  net.want_head_inputs(tap);
  auto logits = net.forward(normalize_channels(perturbed, mean, std), &tap);
  auto ce = torch::cross_entropy_loss(logits, y_rows, {}, at::Reduction::None);
  auto s = net.estimate_loss(tap);
  net.train(was_training);
  return {s, ce};
}

}  // namespace

TrainReport train_classifier(ZooNetImpl& net, const Dataset& train, const Dataset& test,
                             const std::vector<double>& mean, const std::vector<double>& std,
                             const TrainOptions& o, const Dataset* ood) {
  o.validate();
  CFX_CHECK(train.size() > 0, "training set is empty");
  auto device = parse_device(o.device);
  seed_all(o.seed);
  net.to(device);
  const std::string head = net.head();
  CFX_CHECK(!o.head_only || head != "linear", option("head-only"),
            " needs an auxiliary head to train (", option("head"), " duq or loss)");
  // Head-only: the classifier is fixed, BN uses its running statistics and dropout is off.
  net.train(!o.head_only);
  FreezeBackbone freeze(net, o.head_only);
  auto params = o.head_only ? head_parameters(net) : net.parameters();
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  // The loss estimator's perturbed inputs have their own stream, so that turning them on
  // leaves shuffling and augmentation as they were.
  auto perturb_gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + 3);
  const int64_t n = train.size();
  const int64_t steps_per_epoch = (n + o.batch_size - 1) / o.batch_size;
  const int64_t total_steps = steps_per_epoch * o.epochs;
  const int64_t warmup = std::max<int64_t>(1, total_steps / 20);
  auto t0 = std::chrono::steady_clock::now();
  TrainReport report;
  const std::string embedding = net.embedding_name();
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs),
                    steps_per_epoch);
    auto perm = torch::randperm(n, torch::kLong);
    double loss_sum = 0, head_sum = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      // Linear warm-up, then cosine decay to zero: robust without tuning per dataset.
      double lr = step < warmup ? o.lr * (step + 1) / warmup
                                : 0.5 * o.lr *
                                      (1 + std::cos(M_PI * (step - warmup) /
                                                    std::max<int64_t>(1, total_steps - warmup)));
      for (auto& g : opt.param_groups())
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      auto idx = perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size));
      auto x = train.images.index_select(0, idx);
      auto y = train.labels.index_select(0, idx).to(device);
      if (o.augment) x = augment_batch(x, o);
      auto pixels = x.to(device);
      x = normalize_channels(pixels, mean, std);
      // DUQ's gradient penalty is taken with respect to the normalised input.
      bool penalty = head == "duq" && o.duq_gp_weight > 0 && step % o.duq_gp_every == 0;
      if (penalty) x.requires_grad_(true);
      Tap tap;
      net.want_head_inputs(tap);
      auto logits = net.forward(x, head == "linear" ? nullptr : &tap);
      auto ce = torch::cross_entropy_loss(logits, y, {}, at::Reduction::None);
      auto loss = o.head_only ? torch::zeros({}, logits.options()) : ce.mean();
      torch::Tensor f, aux;
      if (head == "duq") {
        f = tap.features.at(embedding);
        auto d = net.duq_head()->distances(f);
        aux = duq_bce(d, y);
        if (penalty) aux = aux + o.duq_gp_weight * duq_gradient_penalty(torch::exp(-d), x);
        loss = loss + o.duq_weight * aux;
      } else if (head == "loss") {
        auto s = net.estimate_loss(tap);
        auto target = ce;
        if (o.loss_perturbed > 0) {
          auto [s_p, ce_p] = perturbed_losses(net, pixels, y, logits.size(1), o.loss_perturbed,
                                              mean, std, perturb_gen);
          s = torch::cat({s, s_p});
          target = torch::cat({ce, ce_p});
        }
        aux = loss_head_objective(s, target, o.loss_margin, o.loss_mse_weight);
        loss = loss + o.loss_weight * aux;
      }
      opt.zero_grad();
      loss.backward();
      opt.step();
      // Centroids follow the embeddings of their class (from this batch's forward pass).
      if (head == "duq") net.duq_head()->update_centroids(f, y, o.duq_gamma);
      if (aux.defined()) head_sum += aux.item<double>() * idx.size(0);
      double l = loss.item<double>();
      CFX_CHECK(std::isfinite(l), "training diverged (loss ", l, ") at epoch ", epoch + 1,
                "; lower ", option("lr"));
      loss_sum += l * idx.size(0);
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      char status[64];
      std::snprintf(status, sizeof status, "loss %.4f",
                    loss_sum / std::min(n, (b + 1) * o.batch_size));
      bar.update(b + 1, status);
    }
    report.train_loss = loss_sum / n;
    double head_loss = head_sum / n;
    report.train_accuracy = static_cast<double>(correct) / n;
    report.test_accuracy = test.size() ? evaluate_accuracy(net, test, mean, std, device) : 0.0;
    char status[96];
    std::snprintf(status, sizeof status, "loss %.4f  train acc %.4f  test acc %.4f",
                  report.train_loss, report.train_accuracy, report.test_accuracy);
    bar.finish(status);
    report.epochs.push_back({{"epoch", epoch + 1},
                             {"train_loss", report.train_loss},
                             {"train_accuracy", report.train_accuracy},
                             {"test_accuracy", report.test_accuracy}});
    if (head != "linear") {
      // The head's scores per epoch are its training curve (is it still improving?).
      report.head = evaluate_head(net, test, mean, std, device, ood);
      report.epochs.back()["head_loss"] = head_loss;
      report.epochs.back()["head"] = report.head;
    }
  }
  net.eval();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace cfx
