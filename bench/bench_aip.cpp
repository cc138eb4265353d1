// Cost of AIP counterfactuals on images with the shipped shapes models (cvae + attribute
// classifier, default search of 300 steps with per-item early stop), at batch 1 and 64, against
// each image's runner-up class; the second argument 1 takes the greedy attribute step
// (attribute_step = "greedy", up to 2K probe passes per step) instead of the paper's gradient step.
// The text side is measured in bench_text.cpp.
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "cfx/cfx.h"
#include "cfx/config.h"
#include "cfx/core/log.h"

namespace {

void BM_AipImageCounterfactuals(benchmark::State& state) {
  static auto F = [] {
    cfx::set_quiet(true);
    return cfx::load_classifier(cfx::bench::shipped_model("shapes-cnn.pt"));
  }();
  static auto images = [] {
    cfx::DatasetOptions o;
    o.split = "test";
    o.limit = 64;
    return cfx::load_dataset("shapes", o).images;
  }();
  const int64_t batch = state.range(0);
  cfx::Request req;
  req.classifier = F;
  req.images = images.slice(0, 0, batch);
  req.targets = cfx::runner_up_classes(*F, req.images);
  auto method =
      cfx::make_method("aip", {{"cvae", cfx::bench::shipped_model("shapes-cvae.pt")},
                               {"attribute_step", state.range(1) ? "greedy" : "gradient"}});
  for (auto _ : state) {
    auto r = method->run(req);
    benchmark::DoNotOptimize(r.counterfactuals.data_ptr());
  }
  cfx::bench::seconds_per(state, "s_per_item", static_cast<double>(batch));
}

}  // namespace

BENCHMARK(BM_AipImageCounterfactuals)
    ->Args({1, 0})
    ->Args({64, 0})
    ->Args({1, 1})
    ->Args({64, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
