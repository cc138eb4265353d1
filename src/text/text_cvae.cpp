#include "cfx/text/text_cvae.h"

#include <torch/nn.h>
#include <torch/optim.h>

#include <cmath>

#include "cfx/core/batch_invariance.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/seed.h"
#include "cfx/models/checkpoint.h"
#include "cfx/text/text_classifier.h"

namespace nn = torch::nn;
using nlohmann::json;

namespace cfx {

void TextCvaeOptions::validate() const {
  CFX_CHECK(max_len >= 1 && max_len <= 256, "text cvae option max_len = ", max_len,
            " (use 1 to 256)");
  CFX_CHECK(latent >= 1 && latent <= 1024, "text cvae option latent = ", latent,
            " (use 1 to 1024)");
  CFX_CHECK(embed >= 1 && embed <= 4096, "text cvae option embed = ", embed, " (use 1 to 4096)");
  CFX_CHECK(hidden >= 1 && hidden <= 4096, "text cvae option hidden = ", hidden,
            " (use 1 to 4096)");
  CFX_CHECK(critic_hidden >= 1 && critic_hidden <= 4096,
            "text cvae option critic_hidden = ", critic_hidden, " (use 1 to 4096)");
}

json TextCvaeOptions::to_json() const {
  return {{"max_len", max_len},
          {"latent", latent},
          {"embed", embed},
          {"hidden", hidden},
          {"critic_hidden", critic_hidden}};
}

TextCvaeOptions TextCvaeOptions::from_json(const json& j) {
  TextCvaeOptions o;
  o.max_len = j.at("max_len").get<int64_t>();
  o.latent = j.at("latent").get<int64_t>();
  o.embed = j.at("embed").get<int64_t>();
  o.hidden = j.at("hidden").get<int64_t>();
  o.critic_hidden = j.at("critic_hidden").get<int64_t>();
  return o;
}

void TextCvaeTrainOptions::validate() const {
  loop.validate();
  CFX_CHECK(attribute_epochs >= 1 && attribute_epochs <= 10000,
            "text cvae option attribute_epochs = ", attribute_epochs, " (use 1 to 10000)");
  CFX_CHECK(beta >= 0 && std::isfinite(beta), "text cvae option beta = ", beta, " (must be >= 0)");
  CFX_CHECK(gamma >= 0 && std::isfinite(gamma), "text cvae option gamma = ", gamma,
            " (must be >= 0)");
  CFX_CHECK(temperature > 0 && std::isfinite(temperature),
            "text cvae option temperature = ", temperature, " (must be > 0)");
}

json TextCvaeTrainOptions::to_json() const {
  return {{"loop", loop.to_json()},
          {"attribute_epochs", attribute_epochs},
          {"beta", beta},
          {"gamma", gamma},
          {"temperature", temperature}};
}

namespace {

struct TextCvaeNetImpl : nn::Module {
  TextCvaeNetImpl(const TextCvaeOptions& o, int64_t vocab, int64_t k) : o(o), vocab(vocab) {
    const int64_t h = o.hidden, t = o.max_len;
    embedding = register_module("embedding", nn::Embedding(vocab, o.embed));
    enc = register_module("enc", nn::Conv1d(nn::Conv1dOptions(o.embed, h, 3).padding(1)));
    // The encoder flattens positions rather than pooling them: z must say where words go.
    mu = register_module("mu", nn::Linear(h * t, o.latent));
    logvar = register_module("logvar", nn::Linear(h * t, o.latent));
    d0 = register_module("d0", nn::Linear(o.latent + k, h));
    d1 = register_module("d1", nn::Linear(h, h * t));
    d2 = register_module("d2", nn::Conv1d(nn::Conv1dOptions(h, h, 3).padding(1)));
    d3 = register_module("d3", nn::Conv1d(nn::Conv1dOptions(h, vocab, 1)));
    TokenNetOptions c;
    c.vocab = vocab;
    c.max_len = t;
    c.hidden = o.critic_hidden;
    c.outputs = k;
    critic = register_module("critic", TokenNet(c));
  }
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& ids) {
    auto h =
        torch::relu(enc->forward(embedding->forward(as_two_rows(ids)).transpose(1, 2))).flatten(1);
    return {from_two_rows(mu->forward(h), ids),
            from_two_rows(logvar->forward(h).clamp(-10, 10), ids)};
  }
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& a) {
    auto za = torch::cat({z, a}, 1);
    auto h = torch::relu(d1->forward(torch::relu(d0->forward(as_two_rows(za)))));
    h = torch::relu(d2->forward(h.view({h.size(0), o.hidden, o.max_len})));
    return from_two_rows(d3->forward(h).transpose(1, 2), za);  // [N, T, V]
  }
  TextCvaeOptions o;
  int64_t vocab;
  nn::Embedding embedding{nullptr};
  nn::Conv1d enc{nullptr}, d2{nullptr}, d3{nullptr};
  nn::Linear mu{nullptr}, logvar{nullptr}, d0{nullptr}, d1{nullptr};
  TokenNet critic{nullptr};
};
TORCH_MODULE(TextCvaeNet);

TextCvaeNetImpl& text_net_of(const std::shared_ptr<nn::Module>& m) {
  return *std::dynamic_pointer_cast<TextCvaeNetImpl>(m);
}

double mean_of(const torch::Tensor& t) { return t.to(torch::kDouble).mean().item<double>(); }

}  // namespace

TextCvae::TextCvae(Vocab vocab, std::vector<std::string> attribute_names, TextCvaeOptions options)
    : vocab_(std::move(vocab)), attribute_names_(std::move(attribute_names)), options_(options) {
  options_.validate();
  CFX_CHECK(!attribute_names_.empty(), "a text cvae needs at least one attribute");
  net_ = TextCvaeNet(options_, vocab_.size(), static_cast<int64_t>(attribute_names_.size())).ptr();
  net_->eval();
}

void TextCvae::to(torch::Device device) {
  net_->to(device);
  device_ = device;
}

torch::Tensor TextCvae::encode(const torch::Tensor& ids) {
  CFX_CHECK(ids.dim() == 2 && ids.size(1) == options_.max_len, "the text cvae encodes [N, ",
            options_.max_len, "] token ids, got ", ids.sizes());
  return text_net_of(net_).encode(ids.to(device_, torch::kLong)).first;
}

torch::Tensor TextCvae::decode_logits(const torch::Tensor& z, const torch::Tensor& a) {
  const auto k = static_cast<int64_t>(attribute_names_.size());
  CFX_CHECK(z.dim() == 2 && z.size(1) == options_.latent && a.dim() == 2 && a.size(1) == k &&
                a.size(0) == z.size(0),
            "the text cvae decodes z [N, ", options_.latent, "] and a [N, ", k, "], got ",
            z.sizes(), " and ", a.sizes());
  return text_net_of(net_).decode(z.to(device_, torch::kFloat), a.to(device_, torch::kFloat));
}

torch::Tensor TextCvae::attributes(const torch::Tensor& ids) {
  return rowwise_sigmoid(text_net_of(net_).critic->forward_ids(ids.to(device_, torch::kLong)));
}

torch::Tensor TextCvae::attributes_soft(const torch::Tensor& probs) {
  return rowwise_sigmoid(text_net_of(net_).critic->forward_soft(probs.to(device_, torch::kFloat)));
}

json TextCvae::train(const TextDataset& train, const TextDataset& test,
                     const TextCvaeTrainOptions& o) {
  o.validate();
  CFX_CHECK(train.size() > 0, "no training sentences");
  CFX_CHECK(train.attributes.size(1) == static_cast<int64_t>(attribute_names_.size()),
            "the corpus has ", train.attributes.size(1), " attributes, the cvae was built for ",
            attribute_names_.size());
  seed_all(o.loop.seed);
  auto& net = text_net_of(net_);
  TextTrainOptions d_loop = o.loop;
  d_loop.epochs = o.attribute_epochs;
  double d_loss = fit_token_net(*net.critic, train.ids, train.attributes, d_loop, "text-cvae D");
  const auto device = parse_device(o.loop.device);
  to(device);
  torch::AutoGradMode grad_on(true);
  // D is the judge of the attribute term: frozen, so G must really show a', not bend D.
  for (auto& p : net.critic->parameters()) p.set_requires_grad(false);
  std::vector<torch::Tensor> params;
  for (auto& p : net.parameters())
    if (p.requires_grad()) params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(o.loop.lr));
  net.train();
  double train_loss = run_epochs(train.size(), o.loop, "text-cvae", [&](const torch::Tensor& idx) {
    auto x = train.ids.index_select(0, idx).to(device);
    auto a = train.attributes.index_select(0, idx).to(device);
    auto [mu, logvar] = net.encode(x);
    auto z = mu + torch::randn_like(mu) * torch::exp(0.5 * logvar);
    auto logits = net.decode(z, a);
    auto rec =
        torch::cross_entropy_loss(logits.flatten(0, 1), x.flatten(), {}, at::Reduction::Sum) /
        x.size(0);
    auto kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean();
    // a' from other sentences of the batch: realistic attribute combinations.
    auto a_other = a.index_select(0, torch::randperm(a.size(0), torch::kLong).to(device));
    auto soft = torch::softmax(net.decode(z, a_other) / o.temperature, 2);
    auto consistency = torch::binary_cross_entropy_with_logits(
                           net.critic->forward_soft(soft), a_other, {}, {}, at::Reduction::Sum) /
                       x.size(0);
    auto loss = rec + o.beta * kl + o.gamma * consistency;
    opt.zero_grad();
    loss.backward();
    nn::utils::clip_grad_norm_(params, 10.0);
    opt.step();
    return loss.item<double>();
  });
  for (auto& p : net.critic->parameters()) p.set_requires_grad(true);
  net.eval();
  json report = measure(test);
  report["train_loss"] = train_loss;
  report["critic_train_loss"] = d_loss;
  return report;
}

json TextCvae::measure(const TextDataset& test) {
  torch::NoGradGuard ng;
  const int64_t k = static_cast<int64_t>(attribute_names_.size());
  CFX_CHECK(test.size() > 1, "measuring the text cvae needs at least 2 sentences");
  auto x = test.ids.to(device_);
  auto a = test.attributes.to(device_);
  auto z = encode(x);
  auto recon = decode_logits(z, a).argmax(2);
  auto seen = [&](const torch::Tensor& ids) { return attributes(ids) > 0.5; };
  json r = {{"sentences", test.size()},
            {"recon_token_accuracy", mean_of(recon == x)},
            {"recon_sentence_accuracy", mean_of((recon == x).all(1))},
            {"attribute_accuracy", mean_of(seen(x) == (a > 0.5))}};
  auto a_other = a.roll(1, 0);
  auto match = seen(decode_logits(z, a_other).argmax(2)) == (a_other > 0.5);
  r["attribute_control"] = mean_of(match);
  r["attribute_control_all"] = mean_of(match.all(1));
  json flip = json::object(), flip_oracle = json::object();
  for (int64_t j = 0; j < k; ++j) {
    auto af = a.clone();
    af.select(1, j).fill_(1).sub_(a.select(1, j));
    auto ids = decode_logits(z, af).argmax(2);
    flip[attribute_names_[j]] = mean_of(seen(ids).select(1, j) == (af.select(1, j) > 0.5));
    // The grammar's verdict: exactly a's attributes with j flipped, nothing else changed.
    if (k == static_cast<int64_t>(text_attribute_names().size()))
      flip_oracle[attribute_names_[j]] = mean_of((annotate(ids, vocab_) == af.cpu()).all(1));
  }
  r["flip_control"] = flip;
  if (!flip_oracle.empty()) r["flip_control_oracle"] = flip_oracle;
  return r;
}

void TextCvae::save(const std::string& path, json meta) const {
  save_module(*net_, path);
  meta["kind"] = "text-cvae";
  meta["arch_options"] = options_.to_json();
  meta["vocab"] = vocab_.words();
  meta["attributes"] = attribute_names_;
  write_sidecar(path, meta);
}

std::shared_ptr<TextCvae> TextCvae::load(const std::string& path) {
  json meta = read_checkpoint_meta(path, "text-cvae", "text cvae", "cfx train text-cvae");
  std::shared_ptr<TextCvae> m;
  try {
    m = std::make_shared<TextCvae>(vocab_from_json(meta, path),
                                   meta.at("attributes").get<std::vector<std::string>>(),
                                   TextCvaeOptions::from_json(meta.at("arch_options")));
  } catch (const json::exception& e) {
    fail("text cvae sidecar ", sidecar_path(path), " is invalid: ", e.what());
  }
  load_module(*m->net_, path);
  m->net_->eval();
  m->source = path;
  return m;
}

}  // namespace cfx
