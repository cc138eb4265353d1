// Seconds per item of each method on the shipped Fashion-MNIST classifier, at batch 1
// and 64, with a fixed step budget so the numbers compare across runs and machines.
#include <benchmark/benchmark.h>

#include "cfx/cfx.h"
#include "cfx/config.h"
#include "cfx/core/log.h"

namespace {

struct Fixture {
  std::shared_ptr<cfx::Classifier> F;
  torch::Tensor images;
  Fixture() {
    cfx::set_quiet(true);
    F = cfx::load_classifier(std::string(CFX_SOURCE_DIR) + "/models/fashion-mnist-cnn.pt");
    cfx::DatasetOptions o;
    o.split = "test";
    o.limit = 64;
    images = cfx::load_dataset("fashion-mnist", o).images;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_Method(benchmark::State& state, const std::string& method) {
  auto& fx = fixture();
  int64_t batch = state.range(0);
  cfx::Request req;
  req.classifier = fx.F;
  req.images = fx.images.slice(0, 0, batch);
  req.targets = cfx::runner_up_classes(*fx.F, req.images);
  // Fixed work: 100 steps, no early stop (confidence near 1), so time is per step budget.
  auto m = cfx::make_method(method, {{"steps", 100}, {"confidence", 0.999}});
  for (auto _ : state) {
    auto r = m->run(req);
    benchmark::DoNotOptimize(r.counterfactuals.data_ptr());
  }
  state.counters["s_per_item"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK_CAPTURE(BM_Method, pixel, std::string("pixel"))
    ->Arg(1)
    ->Arg(64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
