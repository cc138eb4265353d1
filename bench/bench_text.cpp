// Cost of AIP counterfactual sentences with the shipped text models: seconds per sentence at
// batch 1 and 32 (300 steps at most, per-item stop).
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "cfx/config.h"
#include "cfx/core/log.h"
#include "cfx/text/aip_text.h"

namespace {

struct TextFixture {
  std::shared_ptr<cfx::TextClassifier> F;
  std::shared_ptr<cfx::TextCvae> G;
  std::vector<std::string> texts;
  TextFixture() {
    cfx::set_quiet(true);
    const std::string dir = std::string(CFX_SOURCE_DIR) + "/models/";
    F = cfx::TextClassifier::load(dir + "text-classifier.pt");
    G = cfx::TextCvae::load(dir + "text-cvae.pt");
    cfx::TextCorpusOptions o;
    o.test_size = 32;
    texts = cfx::make_text_corpus(o, "test").texts;
  }
};

TextFixture& text_fixture() {
  static TextFixture fx;
  return fx;
}

void BM_TextAipCounterfactuals(benchmark::State& state) {
  auto& fx = text_fixture();
  const int64_t batch = state.range(0);
  std::vector<std::string> texts(fx.texts.begin(), fx.texts.begin() + batch);
  cfx::TextAipOptions o;
  o.batch_size = batch;
  o.search.attribute_step = state.range(1) ? "greedy" : "gradient";
  for (auto _ : state) {
    auto r = cfx::explain_text_aip(*fx.F, *fx.G, texts, std::vector<int64_t>(batch, -1), o);
    benchmark::DoNotOptimize(r.items.data());
  }
  cfx::bench::seconds_per(state, "s_per_item", static_cast<double>(batch));
}

}  // namespace

// Second argument 1: the greedy attribute step (docs/claims-aip-text.md) instead of the paper's.
BENCHMARK(BM_TextAipCounterfactuals)
    ->ArgsProduct({{1, 32}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
