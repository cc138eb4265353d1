// Every method on a GPU (tests named *_CUDA; they skip where LibTorch sees no GPU). Each
// method runs on the same shapes items with the same seed on the CPU and on CUDA: the GPU
// run must give results on the CPU, of the same shapes, finite, and about as good as the CPU
// run's (the two differ in float rounding and in their random streams, so not bitwise).
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/core/memory.h"
#include "cfx/data/dataset.h"
#include "cfx/eval/explain.h"
#include "cfx/eval/metrics.h"
#include "cfx/methods/registry.h"
#include "cfx/models/checkpoint.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using namespace cfx;

namespace {

#define CFX_SKIP_WITHOUT_GPU() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU visible to LibTorch"

// Rank-free agreement of two maps [N, 1, H, W]: mean over items of Pearson's r.
double mean_correlation(const torch::Tensor& a, const torch::Tensor& b) {
  auto x = a.flatten(1).to(torch::kDouble), y = b.flatten(1).to(torch::kDouble);
  x = x - x.mean(1, true);
  y = y - y.mean(1, true);
  auto r = (x * y).sum(1) / (x.norm(2, 1) * y.norm(2, 1)).clamp_min(1e-12);
  return r.mean().item<double>();
}

}  // namespace

TEST(Cuda, DeviceNamesAndMemory_CUDA) {
  CFX_SKIP_WITHOUT_GPU();
  EXPECT_TRUE(parse_device("cuda").is_cuda());
  EXPECT_TRUE(parse_device("cuda:0").is_cuda());
  EXPECT_THROW(parse_device("cuda:99"), Error);
  // A 64 MB tensor allocated and freed on the GPU shows in the GPU peak, not in host RSS.
  PeakMemory gpu(torch::Device(torch::kCUDA, 0));
  {
    auto t = torch::ones({16, 1024, 1024}, torch::TensorOptions().device(torch::kCUDA));
    EXPECT_EQ(t.sum().item<float>(), 16.f * 1024 * 1024);
  }
  EXPECT_GE(gpu.peak_mb(), 63.0);
  EXPECT_LT(gpu.peak_mb(), 1024.0);
}

// Every registered method, with its defaults and the shipped shapes models beside the
// classifier (latent, aip and the inpainter in-filler find theirs there).
TEST(Cuda, EveryMethodRunsOnTheGpuAndAgreesWithTheCpu_CUDA) {
  CFX_SKIP_WITHOUT_GPU();
  set_quiet(true);
  auto F = load_classifier(cfx::testing::shipped_model("shapes-cnn.pt"));
  DatasetOptions dopt;
  dopt.split = "test";
  dopt.shapes_count = 8;
  auto data = load_dataset("shapes", dopt);
  Request req;
  req.classifier = F;
  req.images = data.images;
  req.targets = runner_up_classes(*F, data.images);
  req.seed = 3;
  for (const auto& info : method_registry()) {
    SCOPED_TRACE(info.name);
    Request r = req;
    if (info.kind == "saliency") r.targets = F->predict_proba(data.images).argmax(1);
    Explanation cpu, gpu;
    try {
      auto m = info.make(nlohmann::json::object());
      cpu = explain(*m, r, 8);
    } catch (const Error& e) {
      // A method this classifier cannot serve (dip-aux needs a loss head) must say so on
      // the GPU too.
      std::cout << info.name << ": not for this model: " << e.what() << "\n";
      auto m = info.make(nlohmann::json::object());
      r.device = torch::Device(torch::kCUDA, 0);
      EXPECT_THROW(explain(*m, r, 8), Error);
      continue;
    }
    auto m = info.make(nlohmann::json::object());
    r.device = torch::Device(torch::kCUDA, 0);
    gpu = explain(*m, r, 8);
    F->to(torch::kCPU);
    EXPECT_EQ(gpu.config["device"], "cuda:0");
    const auto& a = cpu.result;
    const auto& b = gpu.result;
    EXPECT_GE(gpu.item_peak_mb.min().item<float>(), 0.f);  // GPU allocator stats, not NaN
    if (info.kind == "counterfactual") {
      ASSERT_TRUE(b.counterfactuals.defined());
      EXPECT_EQ(b.counterfactuals.device().type(), torch::kCPU);
      EXPECT_EQ(b.counterfactuals.sizes(), a.counterfactuals.sizes());
      EXPECT_TRUE(torch::isfinite(b.counterfactuals).all().item<bool>());
      double va = cpu.scores.valid.to(torch::kDouble).mean().item<double>();
      double vb = gpu.scores.valid.to(torch::kDouble).mean().item<double>();
      double la = cpu.scores.l1.mean().item<double>(), lb = gpu.scores.l1.mean().item<double>();
      std::cout << info.name << ": validity cpu " << va << " cuda " << vb << "; L1 cpu " << la
                << " cuda " << lb << "; s/item cpu " << a.seconds / 8 << " cuda " << b.seconds / 8
                << "; peak MB/item cuda " << gpu.item_peak_mb.max().item<float>() << "\n";
      // At most two of the eight items may change their outcome, and proximity stays of the
      // same size.
      EXPECT_GE(vb, va - 0.25);
      EXPECT_LT(lb, 2 * la + 0.01);
      EXPECT_GT(lb, 0.5 * la - 0.01);
    } else {
      ASSERT_TRUE(b.saliency.defined());
      EXPECT_EQ(b.saliency.device().type(), torch::kCPU);
      EXPECT_EQ(b.saliency.sizes(), a.saliency.sizes());
      EXPECT_TRUE(torch::isfinite(b.saliency).all().item<bool>());
      double r_cpu_gpu = mean_correlation(a.saliency, b.saliency);
      std::cout << info.name << ": map correlation cpu-cuda " << r_cpu_gpu << "; s/item cpu "
                << a.seconds / 8 << " cuda " << b.seconds / 8 << "\n";
      // Deterministic maps agree to rounding; sampled ones (FIDO draws its masks from the
      // GPU's own random stream) still point at the same regions.
      EXPECT_GT(r_cpu_gpu, info.name.rfind("fido", 0) == 0 ? 0.5 : 0.99);
    }
  }
}

TEST(Cuda, ExplainOnTheCommandLine_CUDA) {
  CFX_SKIP_WITHOUT_GPU();
  auto out = cfx::testing::temp_dir("cuda_cli_explain");
  auto r =
      cfx::testing::run_cfx("explain -q --model " + cfx::testing::shipped_model("shapes-cnn.pt") +
                            " --data shapes --n 4 --method disc --device cuda --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(out + "/result.json"));
  EXPECT_EQ(j["config"]["device"], "cuda:0");
  EXPECT_EQ(j["items"].size(), 4u);
}
