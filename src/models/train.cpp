#include "cfx/models/train.h"

#include <chrono>
#include <cmath>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/progress.h"
#include "cfx/core/seed.h"
#include "cfx/core/tensor.h"

using nlohmann::json;

namespace cfx {

void TrainOptions::validate() const {
  CFX_CHECK(epochs >= 1 && epochs <= 10000, "invalid epochs: ", epochs);
  CFX_CHECK(batch_size >= 1, "invalid batch_size: ", batch_size);
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid learning rate: ", lr);
  CFX_CHECK(weight_decay >= 0, "invalid weight_decay: ", weight_decay);
  CFX_CHECK(shift >= 0 && shift <= 8, "invalid shift: ", shift, " (use 0..8)");
}

json TrainOptions::to_json() const {
  return {{"epochs", epochs},   {"batch_size", batch_size},
          {"lr", lr},           {"weight_decay", weight_decay},
          {"augment", augment}, {"shift", shift},
          {"flip", flip},       {"seed", seed},
          {"device", device}};
}

json TrainReport::to_json() const {
  return {{"train_loss", train_loss},
          {"train_accuracy", train_accuracy},
          {"test_accuracy", test_accuracy},
          {"seconds", seconds},
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
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    ProgressBar bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs),
                    steps_per_epoch);
    auto perm = torch::randperm(n, torch::kLong);
    double loss_sum = 0;
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
      auto logits = net.forward(x);
      auto loss = torch::cross_entropy_loss(logits, y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      double l = loss.item<double>();
      CFX_CHECK(std::isfinite(l), "training diverged (loss ", l, ") at epoch ", epoch + 1,
                "; lower --lr");
      loss_sum += l * idx.size(0);
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      char status[64];
      std::snprintf(status, sizeof status, "loss %.4f",
                    loss_sum / std::min(n, (b + 1) * o.batch_size));
      bar.update(b + 1, status);
    }
    report.train_loss = loss_sum / n;
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
  }
  net.eval();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace cfx
