#include "cfx/text/aip_text.h"

#include <chrono>
#include <cmath>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/seed.h"
#include "cfx/methods/options.h"

using nlohmann::json;

namespace cfx {

void TextAipOptions::validate() const {
  search.validate();
  CFX_CHECK(temperature > 0 && std::isfinite(temperature),
            "text aip option temperature = ", temperature, " (must be > 0)");
  CFX_CHECK(batch_size >= 1 && batch_size <= 100000, "text aip option batch_size = ", batch_size,
            " (use 1 to 100000)");
}

json TextAipOptions::to_json() const {
  json j = search.to_json();
  j.update({{"temperature", temperature},
            {"straight_through", straight_through},
            {"batch_size", batch_size},
            {"seed", seed},
            {"device", device}});
  return j;
}

TextAipOptions TextAipOptions::from_json(const json& j) {
  TextAipOptions o;
  check_option_keys("text aip", j, o.to_json());
  o.search.read(j, true);
  read_option(j, "temperature", o.temperature);
  read_option(j, "straight_through", o.straight_through);
  read_option(j, "batch_size", o.batch_size);
  read_option(j, "seed", o.seed);
  read_option(j, "device", o.device);
  o.validate();
  return o;
}

void check_text_models(const TextClassifier& F, const TextCvae& G) {
  CFX_CHECK(F.vocab() == G.vocab(), "the text classifier ", F.source, " and the text cvae ",
            G.source, " have different vocabularies (", F.vocab().size(), " and ", G.vocab().size(),
            " words); train both on the same corpus");
  CFX_CHECK(F.max_len() == G.max_len(), "the text classifier reads ", F.max_len(),
            " tokens per sentence but the text cvae writes ", G.max_len());
}

int64_t token_edit_distance(const torch::Tensor& a, const torch::Tensor& b) {
  auto words = [](const torch::Tensor& t) {
    std::vector<int64_t> w;
    auto c = t.to(torch::kCPU, torch::kLong).contiguous();
    for (int64_t i = 0; i < c.numel(); ++i)
      if (c.data_ptr<int64_t>()[i] != Vocab::kPad) w.push_back(c.data_ptr<int64_t>()[i]);
    return w;
  };
  auto x = words(a), y = words(b);
  std::vector<int64_t> prev(y.size() + 1), cur(y.size() + 1);
  for (size_t j = 0; j <= y.size(); ++j) prev[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= x.size(); ++i) {
    cur[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= y.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] != y[j - 1])});
    std::swap(prev, cur);
  }
  return prev[y.size()];
}

namespace {

std::vector<float> row(const torch::Tensor& t, int64_t i) {
  auto r = t[i].to(torch::kCPU, torch::kFloat).contiguous();
  return {r.data_ptr<float>(), r.data_ptr<float>() + r.numel()};
}

// F's decision on hard sentences: (class, its probability, p_target).
struct Decision {
  torch::Tensor cls, prob, target_prob;
};
Decision decide(TextClassifier& F, const torch::Tensor& ids, const torch::Tensor& targets) {
  auto p = torch::softmax(F.logits(ids), 1).cpu();
  auto [prob, cls] = p.max(1);
  return {cls, prob, p.gather(1, targets.cpu().unsqueeze(1)).squeeze(1)};
}

}  // namespace

TextAipResult explain_text_aip(TextClassifier& F, TextCvae& G,
                               const std::vector<std::string>& texts,
                               const std::vector<int64_t>& targets, const TextAipOptions& o,
                               const ProgressFn& progress) {
  o.validate();
  check_text_models(F, G);
  CFX_CHECK(!texts.empty(), "no texts to explain");
  CFX_CHECK(targets.size() == texts.size(), "got ", targets.size(), " targets for ", texts.size(),
            " texts");
  const auto t0 = std::chrono::steady_clock::now();
  const auto device = parse_device(o.device);
  F.to(device);
  G.to(device);
  seed_all(o.seed);
  auto enc = encode_texts(texts, F.vocab(), F.max_len());
  const bool corpus_attributes = G.attribute_names() == text_attribute_names();
  TextAipResult res;
  res.attribute_names = G.attribute_names();
  res.class_names = F.class_names();
  const int64_t n = static_cast<int64_t>(texts.size());
  for (int64_t s = 0; s < n; s += o.batch_size) {
    const int64_t e = std::min(n, s + o.batch_size);
    auto x = enc.ids.slice(0, s, e).to(device);
    torch::Tensor z0, a0, tg, before;
    {
      torch::NoGradGuard ng;
      z0 = G.encode(x);
      a0 = G.attributes(x);
      auto logits = F.logits(x);
      tg = torch::tensor(std::vector<int64_t>(targets.begin() + s, targets.begin() + e));
      for (int64_t i = 0; i < tg.size(0); ++i) {
        int64_t t = tg[i].item<int64_t>();
        CFX_CHECK(t >= -1 && t < F.num_classes(), "target ", t, " of text ", s + i + 1,
                  " is not a class of the text classifier (0..", F.num_classes() - 1, ")");
      }
      auto runner_up = std::get<1>(logits.topk(2, 1)).select(1, 1).cpu();
      tg = torch::where(tg >= 0, tg, runner_up).to(device);
    }
    auto logits_fn = [&](const torch::Tensor& z, const torch::Tensor& a, const torch::Tensor&) {
      auto soft = torch::softmax(G.decode_logits(z, a) / o.temperature, 2);
      if (!o.straight_through) return F.logits_soft(soft);
      auto hard = torch::one_hot(soft.argmax(2), soft.size(2)).to(soft.scalar_type());
      return F.logits_soft(hard + soft - soft.detach());
    };
    auto r = aip_search(logits_fn, z0, a0, tg, o.search, progress);
    torch::NoGradGuard ng;
    auto recon = G.decode_logits(z0, a0).argmax(2);
    auto cf = G.decode_logits(r.z, r.a).argmax(2);
    auto d0 = decide(F, x, tg), dr = decide(F, recon, tg), d1 = decide(F, cf, tg);
    auto seen = G.attributes(cf);
    torch::Tensor gb, ga;
    if (corpus_attributes) gb = annotate(x, F.vocab()), ga = annotate(cf, F.vocab());
    for (int64_t i = 0; i < e - s; ++i) {
      TextExplanation t;
      t.text = texts[s + i];
      t.tokens = decode_ids(x[i], F.vocab());
      t.unknown_words = enc.unknown[s + i];
      t.reconstruction = decode_ids(recon[i], F.vocab());
      t.counterfactual = decode_ids(cf[i], F.vocab());
      t.attributes_before = row(a0, i);
      t.attributes_after = row(r.a, i);
      t.attributes_seen = row(seen, i);
      t.target = tg[i].item<int64_t>();
      t.class_before = d0.cls[i].item<int64_t>();
      t.prob_before = d0.prob[i].item<float>();
      t.class_reconstruction = dr.cls[i].item<int64_t>();
      t.prob_reconstruction = dr.prob[i].item<float>();
      t.class_after = d1.cls[i].item<int64_t>();
      t.prob_after = d1.prob[i].item<float>();
      t.target_prob_after = d1.target_prob[i].item<float>();
      t.valid = t.class_after == t.target;
      t.tokens_changed = token_edit_distance(x[i], cf[i]);
      t.steps = r.steps[i].item<int64_t>();
      if (corpus_attributes) t.grammar_before = row(gb, i), t.grammar_after = row(ga, i);
      res.items.push_back(std::move(t));
    }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace cfx
