#include "cfx/text/token_net.h"

#include <torch/nn.h>
#include <torch/optim.h>

#include <cmath>

#include "cfx/core/batch_invariance.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/progress.h"
#include "cfx/core/seed.h"

namespace nn = torch::nn;
using nlohmann::json;

namespace cfx {

void TokenNetOptions::validate() const {
  CFX_CHECK(vocab >= 3 && vocab <= 1000000, "token net option vocab = ", vocab,
            " (use 3 to 1000000)");
  CFX_CHECK(max_len >= 1 && max_len <= 4096, "token net option max_len = ", max_len,
            " (use 1 to 4096)");
  CFX_CHECK(embed >= 1 && embed <= 4096, "token net option embed = ", embed, " (use 1 to 4096)");
  CFX_CHECK(hidden >= 1 && hidden <= 4096, "token net option hidden = ", hidden,
            " (use 1 to 4096)");
  CFX_CHECK(outputs >= 1 && outputs <= 100000, "token net option outputs = ", outputs,
            " (use 1 to 100000)");
}

json TokenNetOptions::to_json() const {
  return {{"vocab", vocab},
          {"max_len", max_len},
          {"embed", embed},
          {"hidden", hidden},
          {"outputs", outputs}};
}

TokenNetOptions TokenNetOptions::from_json(const json& j) {
  TokenNetOptions o;
  o.vocab = j.at("vocab").get<int64_t>();
  o.max_len = j.at("max_len").get<int64_t>();
  o.embed = j.at("embed").get<int64_t>();
  o.hidden = j.at("hidden").get<int64_t>();
  o.outputs = j.at("outputs").get<int64_t>();
  return o;
}

TokenNetImpl::TokenNetImpl(const TokenNetOptions& o) : options(o) {
  o.validate();
  // No padding_idx: <pad> gets a learned embedding like any word, so a soft row that puts
  // its mass on <pad> is read exactly as the hard one would be.
  embedding = register_module("embedding", nn::Embedding(o.vocab, o.embed));
  conv1 = register_module("conv1", nn::Conv1d(nn::Conv1dOptions(o.embed, o.hidden, 3).padding(1)));
  conv2 = register_module("conv2", nn::Conv1d(nn::Conv1dOptions(o.hidden, o.hidden, 3).padding(1)));
  fc1 = register_module("fc1", nn::Linear(2 * o.hidden, o.hidden));
  fc2 = register_module("fc2", nn::Linear(o.hidden, o.outputs));
}

torch::Tensor TokenNetImpl::forward_ids(const torch::Tensor& ids) {
  CFX_CHECK(ids.dim() == 2 && ids.size(1) == options.max_len, "the text network reads [N, ",
            options.max_len, "] token ids, got ", ids.sizes());
  return forward_embedded(embedding->forward(ids));
}

torch::Tensor TokenNetImpl::forward_soft(const torch::Tensor& probs) {
  CFX_CHECK(probs.dim() == 3 && probs.size(1) == options.max_len && probs.size(2) == options.vocab,
            "the text network reads [N, ", options.max_len, ", ", options.vocab,
            "] token distributions, got ", probs.sizes());
  return forward_embedded(probs.matmul(embedding->weight));
}

torch::Tensor TokenNetImpl::forward_embedded(const torch::Tensor& e) {
  // Two kernel-3 convs see five tokens, enough for "not very good" as one pattern; pooling
  // over positions makes the decision independent of where in the sentence it sits.
  auto h = torch::relu(conv1->forward(as_two_rows(e).transpose(1, 2)));
  h = torch::relu(conv2->forward(h));
  auto pooled = torch::cat({std::get<0>(h.max(2)), h.mean(2)}, 1);
  return from_two_rows(fc2->forward(torch::relu(fc1->forward(pooled))), e);
}

void TextTrainOptions::validate() const {
  CFX_CHECK(epochs >= 1 && epochs <= 10000, "text training option epochs = ", epochs,
            " (use 1 to 10000)");
  CFX_CHECK(batch_size >= 1 && batch_size <= 100000,
            "text training option batch_size = ", batch_size, " (use 1 to 100000)");
  CFX_CHECK(lr > 0 && std::isfinite(lr), "text training option lr = ", lr, " (must be > 0)");
}

json TextTrainOptions::to_json() const {
  return {{"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"seed", seed},
          {"device", device}};
}

double run_epochs(int64_t n, const TextTrainOptions& o, const std::string& label,
                  const std::function<double(const torch::Tensor&)>& step) {
  o.validate();
  const int64_t per_epoch = (n + o.batch_size - 1) / o.batch_size;
  ProgressBar bar(label, o.epochs * per_epoch);
  double epoch_loss = 0;
  for (int64_t e = 0, done = 0; e < o.epochs; ++e) {
    auto perm = torch::randperm(n, torch::kLong);
    double sum = 0;
    for (int64_t b = 0; b < per_epoch; ++b) {
      sum += step(perm.slice(0, b * o.batch_size, std::min(n, (b + 1) * o.batch_size)));
      bar.update(++done);
    }
    epoch_loss = sum / per_epoch;
  }
  bar.finish(str("loss ", epoch_loss));
  return epoch_loss;
}

double fit_token_net(TokenNetImpl& net, const torch::Tensor& ids, const torch::Tensor& targets,
                     const TextTrainOptions& o, const std::string& label) {
  o.validate();
  const bool classes = targets.dim() == 1;
  CFX_ASSERT(ids.size(0) == targets.size(0));
  torch::AutoGradMode grad_on(true);
  const auto device = parse_device(o.device);
  net.to(device);
  net.train();
  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(o.lr));
  double loss = run_epochs(ids.size(0), o, label, [&](const torch::Tensor& idx) {
    auto out = net.forward_ids(ids.index_select(0, idx).to(device));
    auto y = targets.index_select(0, idx).to(device);
    auto l = classes ? torch::cross_entropy_loss(out, y)
                     : torch::binary_cross_entropy_with_logits(out, y);
    opt.zero_grad();
    l.backward();
    opt.step();
    return l.item<double>();
  });
  net.eval();
  return loss;
}

}  // namespace cfx
