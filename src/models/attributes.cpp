#include "cfx/models/attributes.h"

#include <torch/optim.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/core/seed.h"
#include "cfx/core/surface.h"
#include "cfx/core/tensor.h"
#include "cfx/models/checkpoint.h"

using nlohmann::json;

namespace cfx {

json AttributeTargets::to_json() const {
  return {{"attributes", names}, {"thresholds", thresholds}, {"groups", groups}};
}

AttributeTargets attribute_targets(const Dataset& train) {
  CFX_CHECK(train.attributes.defined() && !train.attribute_names.empty(), "dataset '", train.name,
            "' has no attributes to learn (shapes, mnist and fashion-mnist have them)");
  AttributeTargets t;
  t.names = train.attribute_names;
  auto a = train.attributes.to(torch::kFloat);
  for (int64_t k = 0; k < a.size(1); ++k) {
    auto col = a.select(1, k);
    bool binary = ((col == 0) | (col == 1)).all().item<bool>();
    // The median splits a continuous measurement into two halves a classifier can learn; ties
    // at the median go to "off", so a column that is mostly constant still has two classes
    // only if it varies.
    t.thresholds.push_back(binary ? 0.5 : col.median().item<double>());
  }
  auto has = [&](const std::vector<std::string>& group) {
    return std::all_of(group.begin(), group.end(), [&](const std::string& n) {
      return std::find(t.names.begin(), t.names.end(), n) != t.names.end();
    });
  };
  for (std::vector<std::string> g : {std::vector<std::string>{"circle", "square", "triangle"},
                                     std::vector<std::string>{"red", "green", "blue"}})
    if (has(g)) t.groups.push_back(g);
  return t;
}

torch::Tensor binarize_attributes(const torch::Tensor& values, const AttributeTargets& t) {
  CFX_CHECK(values.dim() == 2 && values.size(1) == static_cast<int64_t>(t.thresholds.size()),
            "attributes must be [N, ", t.thresholds.size(), "], got ", values.sizes());
  auto th = torch::tensor(t.thresholds, torch::kDouble).to(torch::kFloat).unsqueeze(0);
  return (values.to(torch::kFloat).cpu() > th).to(torch::kFloat);
}

void AttributeTrainOptions::validate() const {
  CFX_CHECK(epochs >= 1 && epochs <= 10000, "invalid epochs: ", epochs);
  CFX_CHECK(batch_size >= 1, "invalid batch_size: ", batch_size);
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid learning rate: ", lr);
}

json AttributeTrainOptions::to_json() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"seed", seed},
          {"device", device}};
}

json train_attribute_classifier(ZooNetImpl& net, const Dataset& train, const Dataset& test,
                                const AttributeTargets& targets, const std::vector<double>& mean,
                                const std::vector<double>& std, const AttributeTrainOptions& o) {
  o.validate();
  auto start = std::chrono::steady_clock::now();
  auto device = parse_device(o.device);
  seed_all(o.seed);
  net.to(device);
  net.train();
  auto y = binarize_attributes(train.attributes, targets);
  const int64_t n = train.size(), per_epoch = (n + o.batch_size - 1) / o.batch_size;
  const int64_t total = o.epochs * per_epoch;
  torch::optim::AdamW opt(net.parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(1e-4));
  ProgressBar bar("attributes", total);
  for (int64_t e = 0, step = 0; e < o.epochs; ++e) {
    auto perm = torch::randperm(n, torch::kLong);
    for (int64_t b = 0; b < per_epoch; ++b, ++step) {
      // Linear warm-up over the first 5% of steps, then cosine decay, as for classifiers.
      const int64_t warmup = std::max<int64_t>(1, total / 20);
      double lr =
          step < warmup
              ? o.lr * (step + 1) / warmup
              : 0.5 * o.lr *
                    (1 + std::cos(M_PI * (step - warmup) /
                                  static_cast<double>(std::max<int64_t>(1, total - warmup))));
      for (auto& g : opt.param_groups())
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      auto idx = perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size));
      auto xb = normalize_channels(train.images.index_select(0, idx).to(device), mean, std);
      auto loss = torch::binary_cross_entropy_with_logits(net.forward(xb),
                                                          y.index_select(0, idx).to(device));
      opt.zero_grad();
      loss.backward();
      opt.step();
      bar.update(step + 1);
    }
  }
  net.eval();
  torch::NoGradGuard ng;
  auto yt = binarize_attributes(test.attributes, targets);
  std::vector<torch::Tensor> preds;
  for (int64_t i = 0; i < test.size(); i += 256) {
    auto xb = normalize_channels(test.images.slice(0, i, std::min(test.size(), i + 256)).to(device),
                                 mean, std);
    preds.push_back((net.forward(xb) > 0).to(torch::kFloat).cpu());
  }
  auto acc = (torch::cat(preds) == yt).to(torch::kFloat).mean(0);
  json per = json::object();
  for (size_t k = 0; k < targets.names.size(); ++k)
    per[targets.names[k]] = acc[static_cast<int64_t>(k)].item<double>();
  double mean_acc = acc.mean().item<double>();
  char status[64];
  std::snprintf(status, sizeof status, "mean test accuracy %.3f", mean_acc);
  bar.finish(status);
  return {
      {"test_accuracy", per},
      {"mean_test_accuracy", mean_acc},
      {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
}

AttributeClassifier::AttributeClassifier(std::shared_ptr<Classifier> net,
                                         std::vector<std::vector<std::string>> groups)
    : net_(std::move(net)), groups_(std::move(groups)) {
  CFX_ASSERT(net_ != nullptr);
  for (const auto& g : groups_)
    for (const auto& n : g) (void)index_of(n);
}

int64_t AttributeClassifier::index_of(const std::string& name) const {
  const auto& n = names();
  auto it = std::find(n.begin(), n.end(), name);
  if (it != n.end()) return it - n.begin();
  std::string known;
  for (const auto& s : n) known += (known.empty() ? "" : ", ") + s;
  fail("unknown attribute '", name, "'; the attribute classifier ", net_->info().source,
       " knows: ", known);
}

torch::Tensor AttributeClassifier::logits(const torch::Tensor& x) { return net_->logits(x); }

torch::Tensor AttributeClassifier::probs(const torch::Tensor& x, int64_t batch_size) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < x.size(0); i += batch_size)
    out.push_back(torch::sigmoid(
        net_->logits(x.slice(0, i, std::min(x.size(0), i + batch_size)).to(device()))));
  return out.empty() ? torch::zeros({0, size()}) : torch::cat(out);
}

torch::Tensor AttributeClassifier::exclusive() const {
  auto m = torch::zeros({size(), size()}, torch::kBool);
  for (const auto& g : groups_)
    for (const auto& a : g)
      for (const auto& b : g)
        if (a != b) m[index_of(a)][index_of(b)] = true;
  return m;
}

std::vector<std::vector<int64_t>> AttributeClassifier::units() const {
  std::vector<std::vector<int64_t>> units;
  std::vector<bool> grouped(names().size(), false);
  for (const auto& g : groups_) {
    std::vector<int64_t> u;
    for (const auto& name : g) {
      u.push_back(index_of(name));
      grouped[static_cast<size_t>(u.back())] = true;
    }
    units.push_back(u);
  }
  for (size_t k = 0; k < grouped.size(); ++k)
    if (!grouped[k]) units.push_back({static_cast<int64_t>(k)});
  return units;
}

std::shared_ptr<AttributeClassifier> load_attribute_classifier(const std::string& path) {
  CFX_CHECK(!path.empty(), "no attribute classifier given (pass ",
            option("attributes", "FILE", "PATH"), ")");
  CFX_CHECK(is_file(path), "attribute classifier file not found: ", path);
  json meta = read_sidecar(path);
  if (meta.is_null()) return std::make_shared<AttributeClassifier>(load_classifier(path));
  auto net = load_native_classifier(path, {}, "attributes");
  std::vector<std::vector<std::string>> groups;
  try {
    groups = meta.value("groups", groups);
  } catch (const json::exception& e) {
    fail("attribute sidecar ", sidecar_path(path), " is invalid: ", e.what());
  }
  return std::make_shared<AttributeClassifier>(net, groups);
}

std::vector<int64_t> attribute_indices(const AttributeClassifier& A, const std::string& list,
                                       const std::string& option) {
  try {
    return attribute_indices(
        A.size(), [&](const std::string& name) { return A.index_of(name); }, list);
  } catch (const Error& e) {
    if (option.empty()) throw;
    throw Error(option + " = '" + list + "': " + e.what());
  }
}

std::vector<int64_t> attribute_indices(int64_t count,
                                       const std::function<int64_t(const std::string&)>& index_of,
                                       const std::string& list) {
  std::vector<int64_t> out;
  if (list.empty()) {
    for (int64_t k = 0; k < count; ++k) out.push_back(k);
    return out;
  }
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(pos, end - pos);
    CFX_CHECK(!name.empty(), "empty attribute name in '", list, "'");
    int64_t k = index_of(name);
    CFX_CHECK(std::find(out.begin(), out.end(), k) == out.end(), "attribute '", name,
              "' is listed twice");
    out.push_back(k);
    pos = end + 1;
  }
  return out;
}

}  // namespace cfx
