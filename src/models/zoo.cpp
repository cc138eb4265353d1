#include "cfx/models/zoo.h"

#include <torch/nn.h>

#include <algorithm>

#include "cfx/core/error.h"

namespace nn = torch::nn;

namespace cfx {

void ZooOptions::validate() const {
  CFX_CHECK(channels == 1 || channels == 3, "invalid channels: ", channels, " (use 1 or 3)");
  CFX_CHECK(height >= 8 && width >= 8, "invalid input size: ", height, "x", width,
            " (zoo networks need at least 8x8)");
  CFX_CHECK(num_classes >= 2, "invalid num_classes: ", num_classes, " (need at least 2)");
  CFX_CHECK(width_mult >= 1 && width_mult <= 512, "invalid width_mult: ", width_mult);
  CFX_CHECK(dropout >= 0 && dropout < 1, "invalid dropout: ", dropout, " (use [0, 1))");
  auto heads = zoo_head_names();
  CFX_CHECK(std::find(heads.begin(), heads.end(), head) != heads.end(), "invalid head: '", head,
            "' (known: linear, duq, loss)");
}

void ZooNetImpl::add_head(const ZooOptions& o, int64_t dim, std::vector<int64_t> loss_channels) {
  head_ = o.head;
  if (head_ == "duq") duq_ = register_module("duq", DuqHead(dim, o.num_classes));
  if (head_ == "loss") loss_ = register_module("loss_head", LossHead(std::move(loss_channels)));
}

void ZooNetImpl::want_head_inputs(Tap& tap) const {
  if (head_ == "duq") tap.want_features.insert(embedding_name());
  if (head_ == "loss")
    for (const auto& name : loss_features()) tap.want_features.insert(name);
}

torch::Tensor ZooNetImpl::estimate_loss(const Tap& tap) {
  CFX_ASSERT(loss_);
  std::vector<torch::Tensor> features;
  for (const auto& name : loss_features()) features.push_back(tap.features.at(name));
  return loss_->forward(features);
}

namespace {

nn::Conv2d conv3(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

/// conv -> BN -> ReLU, recording the BN input under `name`.bn.
torch::Tensor conv_bn_relu(const torch::Tensor& x, nn::Conv2d& conv, nn::BatchNorm2d& bn,
                           const std::string& name, Tap* tap) {
  auto h = conv->forward(x);
  if (tap) tap->bn_input(name, h);
  return torch::relu(bn->forward(h));
}

// Two 3x3 conv stages with max pooling, then two linear layers: a plain, fast classifier
// whose BN layers give DeepInversion-style priors something to work with.
class CnnImpl : public ZooNetImpl {
 public:
  explicit CnnImpl(const ZooOptions& o) {
    int64_t w = o.width_mult;
    const int64_t ins[4] = {o.channels, w, w, 2 * w};
    const int64_t outs[4] = {w, w, 2 * w, 2 * w};
    for (int i = 0; i < 4; ++i) {
      int64_t in = ins[i], out = outs[i];
      convs_.push_back(register_module("conv" + std::to_string(i + 1), conv3(in, out)));
      bns_.push_back(register_module("bn" + std::to_string(i + 1), nn::BatchNorm2d(out)));
    }
    int64_t flat = 2 * w * (o.height / 4) * (o.width / 4);
    fc1_ = register_module("fc1", nn::Linear(flat, 128));
    fc2_ = register_module("fc2", nn::Linear(128, o.num_classes));
    dropout_ = register_module("dropout", nn::Dropout(o.dropout));
    add_head(o, 128, {w, 2 * w});
  }

  torch::Tensor forward(const torch::Tensor& x, Tap* tap) override {
    auto h = x;
    for (size_t i = 0; i < 4; ++i) {
      std::string n = std::to_string(i + 1);
      h = conv_bn_relu(h, convs_[i], bns_[i], "bn" + n, tap);
      if (tap) tap->feature("conv" + n, h);
      if (i % 2 == 1) {
        h = torch::max_pool2d(h, 2);
        if (tap) tap->feature(i == 1 ? "stage1" : "stage2", h);
      }
    }
    h = torch::relu(fc1_->forward(h.flatten(1)));
    if (tap) tap->feature("fc1", h);
    auto out = fc2_->forward(dropout_->forward(h));
    if (tap) tap->feature("logits", out);
    return out;
  }

  std::vector<std::string> feature_names() const override {
    return {"conv1", "conv2", "stage1", "conv3", "conv4", "stage2", "fc1", "logits"};
  }
  std::string embedding_name() const override { return "fc1"; }
  std::vector<std::string> loss_features() const override { return {"stage1", "stage2"}; }

  std::vector<std::pair<std::string, nn::BatchNorm2d>> bn_modules() const override {
    std::vector<std::pair<std::string, nn::BatchNorm2d>> out;
    for (size_t i = 0; i < bns_.size(); ++i)
      out.emplace_back("bn" + std::to_string(i + 1), bns_[i]);
    return out;
  }

 private:
  std::vector<nn::Conv2d> convs_;
  std::vector<nn::BatchNorm2d> bns_;
  nn::Linear fc1_{nullptr}, fc2_{nullptr};
  nn::Dropout dropout_{nullptr};
};

// A basic residual block (two 3x3 convs, identity or 1x1-conv shortcut).
struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
    conv1 = register_module("conv1", conv3(in, out, stride));
    bn1 = register_module("bn1", nn::BatchNorm2d(out));
    conv2 = register_module("conv2", conv3(out, out));
    bn2 = register_module("bn2", nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      short_conv = register_module(
          "short_conv", nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
      short_bn = register_module("short_bn", nn::BatchNorm2d(out));
    }
  }
  torch::Tensor forward(const torch::Tensor& x, const std::string& name, Tap* tap) {
    auto h = conv_bn_relu(x, conv1, bn1, name + ".bn1", tap);
    auto h2 = conv2->forward(h);
    if (tap) tap->bn_input(name + ".bn2", h2);
    h2 = bn2->forward(h2);
    auto s = x;
    if (short_conv) {
      s = short_conv->forward(x);
      if (tap) tap->bn_input(name + ".short_bn", s);
      s = short_bn->forward(s);
    }
    return torch::relu(h2 + s);
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, short_conv{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, short_bn{nullptr};
};
TORCH_MODULE(BasicBlock);

// A small three-stage ResNet; the architecture differs from `cnn`, so it serves as an
// independent oracle for oracle validity.
class ResNetImpl : public ZooNetImpl {
 public:
  explicit ResNetImpl(const ZooOptions& o) {
    int64_t w = o.width_mult;
    stem_conv_ = register_module("stem_conv", conv3(o.channels, w));
    stem_bn_ = register_module("stem_bn", nn::BatchNorm2d(w));
    blocks_.push_back(register_module("layer1", BasicBlock(w, w, 1)));
    blocks_.push_back(register_module("layer2", BasicBlock(w, 2 * w, 2)));
    blocks_.push_back(register_module("layer3", BasicBlock(2 * w, 4 * w, 2)));
    fc_ = register_module("fc", nn::Linear(4 * w, o.num_classes));
    dropout_ = register_module("dropout", nn::Dropout(o.dropout));
    add_head(o, 4 * w, {w, 2 * w, 4 * w});
  }

  torch::Tensor forward(const torch::Tensor& x, Tap* tap) override {
    auto h = conv_bn_relu(x, stem_conv_, stem_bn_, "stem_bn", tap);
    if (tap) tap->feature("stem", h);
    for (size_t i = 0; i < blocks_.size(); ++i) {
      std::string n = "layer" + std::to_string(i + 1);
      h = blocks_[i]->forward(h, n, tap);
      if (tap) tap->feature(n, h);
    }
    h = h.mean({2, 3});
    if (tap) tap->feature("pool", h);
    auto out = fc_->forward(dropout_->forward(h));
    if (tap) tap->feature("logits", out);
    return out;
  }

  std::vector<std::string> feature_names() const override {
    return {"stem", "layer1", "layer2", "layer3", "pool", "logits"};
  }
  std::string embedding_name() const override { return "pool"; }
  std::vector<std::string> loss_features() const override { return {"layer1", "layer2", "layer3"}; }

  std::vector<std::pair<std::string, nn::BatchNorm2d>> bn_modules() const override {
    std::vector<std::pair<std::string, nn::BatchNorm2d>> out{{"stem_bn", stem_bn_}};
    for (size_t i = 0; i < blocks_.size(); ++i) {
      std::string n = "layer" + std::to_string(i + 1);
      out.emplace_back(n + ".bn1", blocks_[i]->bn1);
      out.emplace_back(n + ".bn2", blocks_[i]->bn2);
      if (blocks_[i]->short_bn) out.emplace_back(n + ".short_bn", blocks_[i]->short_bn);
    }
    return out;
  }

 private:
  nn::Conv2d stem_conv_{nullptr};
  nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<BasicBlock> blocks_;
  nn::Linear fc_{nullptr};
  nn::Dropout dropout_{nullptr};
};

// A multilayer perceptron without batch norm: the case where BN priors cannot apply.
class MlpImpl : public ZooNetImpl {
 public:
  explicit MlpImpl(const ZooOptions& o) {
    int64_t hidden = 8 * o.width_mult;
    fc1_ = register_module("fc1", nn::Linear(o.channels * o.height * o.width, hidden));
    fc2_ = register_module("fc2", nn::Linear(hidden, hidden / 2));
    fc3_ = register_module("fc3", nn::Linear(hidden / 2, o.num_classes));
    dropout_ = register_module("dropout", nn::Dropout(o.dropout));
    add_head(o, hidden / 2, {hidden, hidden / 2});
  }
  torch::Tensor forward(const torch::Tensor& x, Tap* tap) override {
    auto h = torch::relu(fc1_->forward(x.flatten(1)));
    if (tap) tap->feature("fc1", h);
    h = torch::relu(fc2_->forward(h));
    if (tap) tap->feature("fc2", h);
    auto out = fc3_->forward(dropout_->forward(h));
    if (tap) tap->feature("logits", out);
    return out;
  }
  std::vector<std::string> feature_names() const override { return {"fc1", "fc2", "logits"}; }
  std::string embedding_name() const override { return "fc2"; }
  std::vector<std::string> loss_features() const override { return {"fc1", "fc2"}; }
  std::vector<std::pair<std::string, nn::BatchNorm2d>> bn_modules() const override { return {}; }

 private:
  nn::Linear fc1_{nullptr}, fc2_{nullptr}, fc3_{nullptr};
  nn::Dropout dropout_{nullptr};
};

}  // namespace

std::vector<std::string> zoo_arch_names() { return {"cnn", "resnet", "mlp"}; }

std::vector<std::string> zoo_head_names() { return {"linear", "duq", "loss"}; }

std::shared_ptr<ZooNetImpl> make_zoo_net(const ZooOptions& options) {
  options.validate();
  if (options.arch == "cnn") return std::make_shared<CnnImpl>(options);
  if (options.arch == "resnet") return std::make_shared<ResNetImpl>(options);
  if (options.arch == "mlp") return std::make_shared<MlpImpl>(options);
  fail("unknown architecture '", options.arch, "'; known: cnn, resnet, mlp");
}

}  // namespace cfx
