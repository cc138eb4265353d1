#include "cfx/models/train.h"

#include <chrono>
#include <cmath>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/progress.h"
#include "cfx/core/seed.h"
#include "cfx/core/surface.h"
#include "cfx/core/tensor.h"

using nlohmann::json;

namespace cfx {

void TrainOptions::validate() const {
  CFX_CHECK(epochs >= 1 && epochs <= 10000, "invalid epochs: ", epochs);
  CFX_CHECK(batch_size >= 1, "invalid batch_size: ", batch_size);
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid learning rate: ", lr);
  CFX_CHECK(weight_decay >= 0, "invalid weight_decay: ", weight_decay);
  CFX_CHECK(shift >= 0 && shift <= 8, "invalid shift: ", shift, " (use 0..8)");
  CFX_CHECK(duq_weight >= 0 && std::isfinite(duq_weight), "invalid duq_weight: ", duq_weight);
  CFX_CHECK(duq_gp_weight >= 0 && std::isfinite(duq_gp_weight),
            "invalid duq_gp_weight: ", duq_gp_weight);
  CFX_CHECK(duq_gp_every >= 1, "invalid duq_gp_every: ", duq_gp_every, " (use >= 1)");
  CFX_CHECK(duq_gamma > 0 && duq_gamma < 1, "invalid duq_gamma: ", duq_gamma, " (use (0, 1))");
  CFX_CHECK(loss_weight >= 0 && std::isfinite(loss_weight), "invalid loss_weight: ", loss_weight);
  CFX_CHECK(loss_margin >= 0 && std::isfinite(loss_margin), "invalid loss_margin: ", loss_margin);
  CFX_CHECK(loss_mse_weight >= 0 && std::isfinite(loss_mse_weight),
            "invalid loss_mse_weight: ", loss_mse_weight);
}

json TrainOptions::to_json() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"weight_decay", weight_decay},
          {"augment", augment},
          {"shift", shift},
          {"flip", flip},
          {"seed", seed},
          {"device", device},
          {"duq_weight", duq_weight},
          {"duq_gp_weight", duq_gp_weight},
          {"duq_gp_every", duq_gp_every},
          {"duq_gamma", duq_gamma},
          {"loss_weight", loss_weight},
          {"loss_margin", loss_margin},
          {"loss_mse_weight", loss_mse_weight}};
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

// Random shifts (replicate padding, so coloured backgrounds stay coloured) and optional
// flips, drawn per item from torch's seeded generator.
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
  return out;
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

json evaluate_head(ZooNetImpl& net, const Dataset& data, const std::vector<double>& mean,
                   const std::vector<double>& std, torch::Device device) {
  if (net.head() == "linear" || data.size() == 0) return json::object();
  torch::NoGradGuard no_grad;
  bool was_training = net.is_training();
  net.eval();
  Tap tap;
  tap.want_features.insert(net.embedding_name());
  std::vector<torch::Tensor> outs, losses;
  for (int64_t i = 0; i < data.size(); i += 512) {
    int64_t j = std::min(i + 512, data.size());
    auto x = normalize_channels(data.images.slice(0, i, j).to(device), mean, std);
    auto logits = net.forward(x, &tap);
    auto f = tap.features.at(net.embedding_name());
    auto y = data.labels.slice(0, i, j).to(device);
    losses.push_back(torch::cross_entropy_loss(logits, y, {}, at::Reduction::None).cpu());
    outs.push_back(
        (net.head() == "duq" ? net.duq_head()->forward(f) : net.loss_head()->forward(f)).cpu());
  }
  net.train(was_training);
  auto out = torch::cat(outs);
  if (net.head() == "duq") {
    auto acc = out.argmax(1).eq(data.labels).to(torch::kDouble).mean().item<double>();
    return {{"duq_accuracy", acc},
            {"duq_mean_max_k", std::get<0>(out.max(1)).mean().item<double>()}};
  }
  auto loss = torch::cat(losses);
  return {{"loss_rank_correlation", rank_correlation(out, loss)},
          {"loss_estimate_mean", out.mean().item<double>()},
          {"loss_mean", loss.mean().item<double>()}};
}

TrainReport train_classifier(ZooNetImpl& net, const Dataset& train, const Dataset& test,
                             const std::vector<double>& mean, const std::vector<double>& std,
                             const TrainOptions& o) {
  o.validate();
  CFX_CHECK(train.size() > 0, "training set is empty");
  auto device = parse_device(o.device);
  seed_all(o.seed);
  net.to(device);
  net.train();
  torch::optim::AdamW opt(net.parameters(),
                          torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  const int64_t n = train.size();
  const int64_t steps_per_epoch = (n + o.batch_size - 1) / o.batch_size;
  const int64_t total_steps = steps_per_epoch * o.epochs;
  const int64_t warmup = std::max<int64_t>(1, total_steps / 20);
  auto t0 = std::chrono::steady_clock::now();
  TrainReport report;
  const std::string head = net.head();
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
      x = normalize_channels(x.to(device), mean, std);
      // DUQ's gradient penalty is taken with respect to the normalised input.
      bool penalty = head == "duq" && o.duq_gp_weight > 0 && step % o.duq_gp_every == 0;
      if (penalty) x.requires_grad_(true);
      Tap tap;
      tap.want_features.insert(embedding);
      auto logits = net.forward(x, head == "linear" ? nullptr : &tap);
      auto ce = torch::cross_entropy_loss(logits, y, {}, at::Reduction::None);
      auto loss = ce.mean();
      torch::Tensor f, aux;
      if (head == "duq") {
        f = tap.features.at(embedding);
        auto d = net.duq_head()->distances(f);
        aux = duq_bce(d, y);
        if (penalty) aux = aux + o.duq_gp_weight * duq_gradient_penalty(torch::exp(-d), x);
        loss = loss + o.duq_weight * aux;
      } else if (head == "loss") {
        f = tap.features.at(embedding);
        aux =
            loss_head_objective(net.loss_head()->forward(f), ce, o.loss_margin, o.loss_mse_weight);
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
    if (head != "linear") report.epochs.back()["head_loss"] = head_loss;
  }
  report.head = evaluate_head(net, test, mean, std, device);
  net.eval();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace cfx
