// Seconds per image of the saliency methods on the shipped Fashion-MNIST classifier, at batch
// 1 and 32, with a fixed step budget (no early stop) so numbers compare across runs.
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "cfx/cfx.h"
#include "cfx/config.h"
#include "cfx/core/log.h"

namespace {

struct SaliencyFixture {
  std::shared_ptr<cfx::Classifier> F;
  torch::Tensor images;
  SaliencyFixture() {
    cfx::set_quiet(true);
    F = cfx::load_classifier(cfx::bench::shipped_model("fashion-mnist-cnn.pt"));
    cfx::DatasetOptions o;
    o.split = "test";
    o.limit = 32;
    images = cfx::load_dataset("fashion-mnist", o).images;
  }
};

void BM_Saliency(benchmark::State& state, const std::string& method, nlohmann::json opts) {
  static SaliencyFixture fx;
  int64_t batch = state.range(0);
  cfx::Request req;
  req.classifier = fx.F;
  req.images = fx.images.slice(0, 0, batch);
  req.targets = fx.F->predict_proba(req.images).argmax(1);
  if (method != "gradient" && method != "occlusion") {
    opts["steps"] = 100;
    opts["tol"] = 0.0;  // never stops early: time per 100 steps
  }
  auto m = cfx::make_method(method, opts);
  for (auto _ : state) {
    auto r = m->run(req);
    benchmark::DoNotOptimize(r.saliency.data_ptr());
  }
  cfx::bench::seconds_per(state, "s_per_item", static_cast<double>(batch));
}

}  // namespace

#define CFX_BENCH_SALIENCY(name, method, opts)                                    \
  BENCHMARK_CAPTURE(BM_Saliency, name, std::string(method), nlohmann::json(opts)) \
      ->Arg(1)                                                                    \
      ->Arg(32)                                                                   \
      ->Unit(benchmark::kMillisecond)                                             \
      ->UseRealTime()

CFX_BENCH_SALIENCY(fido_inpainter_100steps, "fido", nlohmann::json::object());
CFX_BENCH_SALIENCY(fido_blur_100steps, "fido", (nlohmann::json{{"infill", "blur"}}));
CFX_BENCH_SALIENCY(fido_mean_100steps, "fido", (nlohmann::json{{"infill", "mean"}}));
CFX_BENCH_SALIENCY(fido_local_100steps, "fido", (nlohmann::json{{"infill", "local"}}));
// The stochastic in-filler: one conditional-VAE draw per Concrete sample.
CFX_BENCH_SALIENCY(fido_cvae_inpainter_100steps, "fido",
                   (nlohmann::json{
                       {"inpainter", cfx::bench::shipped_model("fashion-mnist-inpainter-cvae.pt")}}));
CFX_BENCH_SALIENCY(bbmp_100steps, "bbmp", nlohmann::json::object());
CFX_BENCH_SALIENCY(gradient, "gradient", nlohmann::json::object());
CFX_BENCH_SALIENCY(occlusion, "occlusion", nlohmann::json::object());
