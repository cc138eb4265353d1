// Cost of latent-space explanations with the shipped shapes models: per-image contrastive
// counterfactuals (one edit per attribute, 11 attributes, then the refinement for items no edit
// brings to the target) at batch 1 and 64, through the shift predictor (via=shift, the paper)
// and through the cvae's attribute code (via=code), and `cfx global`'s
// sampling (22 interventions per sample) per 1000 samples, through the learned generator and
// shift predictor, through the cvae's attribute code (--via code) and through the oracle
// generator (shapes' renderer).
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "cfx/cfx.h"
#include "cfx/config.h"
#include "cfx/core/log.h"

namespace {

struct LatentFixture {
  std::shared_ptr<cfx::Classifier> F;
  cfx::LatentModels m;
  torch::Tensor images;
  LatentFixture() {
    cfx::set_quiet(true);
    F = cfx::load_classifier(cfx::bench::shipped_model("shapes-cnn.pt"));
    m = cfx::load_latent_models(cfx::bench::shipped_model("shapes-shifter.pt"), "", "", F.get());
    cfx::DatasetOptions o;
    o.split = "test";
    o.limit = 64;
    images = cfx::load_dataset("shapes", o).images;
  }
};

LatentFixture& latent_fixture() {
  static LatentFixture fx;
  return fx;
}

void latent_counterfactuals(benchmark::State& state, const nlohmann::json& options) {
  auto& fx = latent_fixture();
  int64_t batch = state.range(0);
  cfx::Request req;
  req.classifier = fx.F;
  req.images = fx.images.slice(0, 0, batch);
  req.targets = cfx::runner_up_classes(*fx.F, req.images);
  auto method = cfx::make_method("latent", options);
  for (auto _ : state) {
    auto r = method->run(req);
    benchmark::DoNotOptimize(r.counterfactuals.data_ptr());
  }
  cfx::bench::seconds_per(state, "s_per_item", static_cast<double>(batch));
}

void BM_LatentCounterfactuals(benchmark::State& state) {
  latent_counterfactuals(state, {{"shifter", cfx::bench::shipped_model("shapes-shifter.pt")}});
}

void BM_LatentCounterfactualsViaCode(benchmark::State& state) {
  latent_counterfactuals(state, {{"shifter", cfx::bench::shipped_model("shapes-shifter.pt")},
                                 {"via", "code"},
                                 {"cvae", cfx::bench::shipped_model("shapes-cvae.pt")}});
}

void BM_GlobalSampling(benchmark::State& state) {
  auto& fx = latent_fixture();
  cfx::SamplingOptions o;
  o.samples = state.range(0);
  for (auto _ : state) {
    auto s =
        cfx::sample_interventions(*fx.F, {0}, *fx.m.generator, *fx.m.attributes, *fx.m.shifter, o);
    auto scores = cfx::causal_scores(s, {});
    benchmark::DoNotOptimize(scores.data());
  }
  cfx::bench::seconds_per(state, "s_per_1000_samples", static_cast<double>(o.samples) / 1000.0);
}

// The same through the oracle generator (the shapes renderer, exact interventions): the
// true scores' cost, for the same classifier and number of samples.
void BM_GlobalSamplingOracle(benchmark::State& state) {
  auto& fx = latent_fixture();
  cfx::ShapesOptions o;
  o.split = "test";
  o.count = state.range(0);
  auto scenes = cfx::shapes_scenes(o);
  for (auto _ : state) {
    auto s = cfx::sample_oracle_interventions(*fx.F, {0}, scenes, 256, "");
    auto scores = cfx::causal_scores(s, {});
    benchmark::DoNotOptimize(scores.data());
  }
  cfx::bench::seconds_per(state, "s_per_1000_samples", static_cast<double>(o.count) / 1000.0);
}

// The same through the shipped cvae's attribute code (`cfx global --via code`): the test
// images are encoded once, outside the timing, as run_global encodes them before sampling.
void BM_GlobalSamplingViaCode(benchmark::State& state) {
  auto& fx = latent_fixture();
  auto m = cfx::load_aip_models(cfx::bench::shipped_model("shapes-cvae.pt"), "", fx.F.get());
  cfx::DatasetOptions o;
  o.split = "test";
  o.limit = state.range(0);
  auto latents =
      cfx::code_latents(*m.cvae, *m.attributes, cfx::load_dataset("shapes", o).images, 0);
  for (auto _ : state) {
    auto s = cfx::sample_code_interventions(*fx.F, {0}, *m.cvae, *m.attributes, latents, 256, "");
    auto scores = cfx::causal_scores(s, {});
    benchmark::DoNotOptimize(scores.data());
  }
  cfx::bench::seconds_per(state, "s_per_1000_samples",
                          static_cast<double>(latents.size(0)) / 1000.0);
}

}  // namespace

BENCHMARK(BM_LatentCounterfactuals)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LatentCounterfactualsViaCode)
    ->Arg(1)
    ->Arg(64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GlobalSampling)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GlobalSamplingViaCode)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GlobalSamplingOracle)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
