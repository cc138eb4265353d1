#include "cfx/text/text_classifier.h"

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/seed.h"
#include "cfx/models/checkpoint.h"

using nlohmann::json;

namespace cfx {

namespace {
TokenNetOptions fitted(TokenNetOptions arch, const Vocab& vocab, size_t classes) {
  arch.vocab = vocab.size();
  arch.outputs = static_cast<int64_t>(classes);
  return arch;
}
}  // namespace

TextClassifier::TextClassifier(Vocab vocab, TokenNetOptions arch, std::vector<std::string> classes)
    : vocab_(std::move(vocab)), classes_(std::move(classes)) {
  CFX_CHECK(classes_.size() >= 2, "a text classifier needs at least 2 classes, got ",
            classes_.size());
  net_ = TokenNet(fitted(arch, vocab_, classes_.size()));
  net_->eval();
}

torch::Tensor TextClassifier::logits(const torch::Tensor& ids) {
  return net_->forward_ids(ids.to(device_, torch::kLong));
}

torch::Tensor TextClassifier::logits_soft(const torch::Tensor& probs) {
  return net_->forward_soft(probs.to(device_, torch::kFloat));
}

void TextClassifier::to(torch::Device device) {
  net_->to(device);
  device_ = device;
}

json TextClassifier::train(const TextDataset& train, const TextDataset& test,
                           const TextTrainOptions& o) {
  CFX_CHECK(train.size() > 0, "no training sentences");
  seed_all(o.seed);
  double loss = fit_token_net(*net_, train.ids, train.labels, o, "text-classifier");
  device_ = parse_device(o.device);
  return {{"train_loss", loss}, {"test_accuracy", accuracy(test)}};
}

double TextClassifier::accuracy(const TextDataset& data) {
  torch::NoGradGuard ng;
  if (data.size() == 0) return 0;
  auto pred = logits(data.ids).argmax(1).cpu();
  return (pred == data.labels).to(torch::kDouble).mean().item<double>();
}

void TextClassifier::save(const std::string& path, json meta) const {
  save_module(*net_.ptr(), path);
  meta["kind"] = "text-classifier";
  meta["arch_options"] = net_->options.to_json();
  meta["vocab"] = vocab_.words();
  meta["classes"] = classes_;
  write_sidecar(path, meta);
}

Vocab vocab_from_json(const json& meta, const std::string& path) {
  try {
    return Vocab(meta.at("vocab").get<std::vector<std::string>>());
  } catch (const json::exception& e) {
    fail("sidecar ", sidecar_path(path), " has no valid vocab list: ", e.what());
  }
}

std::shared_ptr<TextClassifier> TextClassifier::load(const std::string& path) {
  json meta =
      read_checkpoint_meta(path, "text-classifier", "text classifier", "cfx train text-classifier");
  std::shared_ptr<TextClassifier> c;
  try {
    c = std::make_shared<TextClassifier>(vocab_from_json(meta, path),
                                         TokenNetOptions::from_json(meta.at("arch_options")),
                                         meta.at("classes").get<std::vector<std::string>>());
  } catch (const json::exception& e) {
    fail("text classifier sidecar ", sidecar_path(path), " is invalid: ", e.what());
  }
  load_module(*c->net_, path);
  c->net_->eval();
  c->source = path;
  return c;
}

}  // namespace cfx
