// Seconds per item of each method on the shipped Fashion-MNIST classifier, at batch 1
// and 64, with a fixed step budget so the numbers compare across runs and machines.
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "cfx/cfx.h"
#include "cfx/config.h"
#include "cfx/core/log.h"

namespace {

struct Fixture {
  std::shared_ptr<cfx::Classifier> F;
  std::shared_ptr<cfx::Classifier> F_loss;  // with a loss-estimator head, for dip-aux
  torch::Tensor images;
  Fixture() {
    cfx::set_quiet(true);
    F = cfx::load_classifier(cfx::bench::shipped_model("fashion-mnist-cnn.pt"));
    F_loss = cfx::load_classifier(cfx::bench::shipped_model("fashion-mnist-cnn-loss.pt"));
    cfx::DatasetOptions o;
    o.split = "test";
    o.limit = 64;
    images = cfx::load_dataset("fashion-mnist", o).images;
  }
};

Fixture& methods_fixture() {
  static Fixture f;
  return f;
}

void BM_Method(benchmark::State& state, const std::string& method) {
  auto& fx = methods_fixture();
  int64_t batch = state.range(0);
  cfx::Request req;
  req.classifier = method == "dip-aux" ? fx.F_loss : fx.F;
  req.images = fx.images.slice(0, 0, batch);
  req.targets = cfx::runner_up_classes(*fx.F, req.images);
  // Fixed work: 100 search steps and (dip, disc) 100 prior-fit steps, no early stop
  // (confidence and fit PSNR out of reach), so time is per step budget.
  nlohmann::json opts = {{"steps", 100}, {"confidence", 0.999}};
  if (method != "pixel" && method != "deepinv") {
    opts["fit_steps"] = 100;
    opts["fit_psnr"] = 100;
  }
  auto m = cfx::make_method(method, opts);
  for (auto _ : state) {
    auto r = m->run(req);
    benchmark::DoNotOptimize(r.counterfactuals.data_ptr());
  }
  cfx::bench::seconds_per(state, "s_per_item", static_cast<double>(batch));
}

// explain() over 128 items in batches of 32 (4 batches), one batch at a time on every thread
// (workers 1) against batches side by side (workers 0: one per thread), disc with the same
// fixed budget: what `--batch-workers` buys on this machine (docs/performance.md, "Threads").
void BM_ExplainBatchWorkers(benchmark::State& state) {
  auto& fx = methods_fixture();
  static const torch::Tensor images = [] {
    cfx::DatasetOptions o;
    o.split = "test";
    o.limit = 128;
    return cfx::load_dataset("fashion-mnist", o).images;
  }();
  cfx::Request req;
  req.classifier = fx.F;
  req.images = images;
  req.targets = cfx::runner_up_classes(*fx.F, images);
  auto m = cfx::make_method(
      "disc", {{"steps", 100}, {"confidence", 0.999}, {"fit_steps", 100}, {"fit_psnr", 100}});
  int64_t workers = 1;
  for (auto _ : state) {
    auto e = cfx::explain(*m, req, 32, {}, state.range(0));
    workers = e.workers;
    benchmark::DoNotOptimize(e.result.counterfactuals.data_ptr());
  }
  state.counters["workers"] = static_cast<double>(workers);
  cfx::bench::seconds_per(state, "s_per_item", static_cast<double>(images.size(0)));
}

}  // namespace

BENCHMARK(BM_ExplainBatchWorkers)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

#define CFX_BENCH_METHOD(name, str)                    \
  BENCHMARK_CAPTURE(BM_Method, name, std::string(str)) \
      ->Arg(1)                                         \
      ->Arg(64)                                        \
      ->Unit(benchmark::kMillisecond)                  \
      ->UseRealTime()

CFX_BENCH_METHOD(pixel, "pixel");
CFX_BENCH_METHOD(deepinv, "deepinv");
CFX_BENCH_METHOD(dip, "dip");
CFX_BENCH_METHOD(dip_aux, "dip-aux");
CFX_BENCH_METHOD(disc, "disc");

// BENCHMARK_MAIN with the allocator and threads set up as the cfx CLI does (OMP_NUM_THREADS=1
// make bench: one thread).
int main(int argc, char** argv) {
  cfx::keep_freed_memory();
  cfx::set_threads(0);
  benchmark::AddCustomContext("cfx threads", cfx::threads_description());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
