// explain() running batches side by side (its `workers`): the results are those of a
// serial run at the same per-batch thread count, progress stays whole and in order, errors
// reach the caller, batch files resume across modes, and the process's thread count is
// left as it was.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "cfx/core/error.h"
#include "cfx/core/threads.h"
#include "cfx/data/dataset.h"
#include "cfx/eval/explain.h"
#include "cfx/methods/registry.h"
#include "cli/cli_runner.h"
#include "helpers.h"
#include "models/hand_written.h"

using namespace cfx;

namespace {

Request workers_request(int64_t n) { return cfx::testing::toy_flip_request(n, 3); }

// A method that does not declare its runs independent (Method's default): every built-in
// method does since 2026-12-01, a method added later may not.
class OneAtATime : public Method {
 public:
  explicit OneAtATime(std::unique_ptr<Method> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  nlohmann::json config() const override { return inner_->config(); }
  Result run(const Request& request) override { return inner_->run(request); }

 private:
  std::unique_ptr<Method> inner_;
};

// disc with a DIP prior: the search draws its prior's noise and weights per batch, so a
// shared generator or a mixed-up batch would show in the images.
std::unique_ptr<Method> disc() {
  return make_method("disc", {{"fit_steps", 60}, {"fit_psnr", 22}, {"steps", 40}});
}

// Sets the thread count for one test and puts the old one back.
struct Threads {
  int before = threads();
  explicit Threads(int n) { set_threads(n); }
  ~Threads() { set_threads(before); }
};

void expect_same(const Result& a, const Result& b) {
  EXPECT_TRUE(torch::equal(a.counterfactuals, b.counterfactuals));
  EXPECT_TRUE(torch::equal(a.steps, b.steps));
  EXPECT_TRUE(torch::equal(a.converged, b.converged));
  EXPECT_TRUE(torch::equal(a.prior_psnr, b.prior_psnr));
  EXPECT_EQ(a.target_prob_trace, b.target_prob_trace);
  EXPECT_EQ(a.loss_trace, b.loss_trace);
}

// Fails, from whichever thread calls it, once it has been called `fail_after` times.
class FailsLater : public cfx::testing::HandWritten {
 public:
  explicit FailsLater(int fail_after) : fail_after_(fail_after) {
    info_.arch = "test";
    info_.input_shape = {1, 8, 8};
    info_.class_names = {"dark", "bright"};
  }
  torch::Tensor logits(const torch::Tensor& x) override {
    if (++calls_ > fail_after_) fail("model exploded on call ", calls_.load());
    auto m = x.flatten(1).mean(1);
    return torch::stack({10 * m, -10 * m}, 1);
  }
  int calls() const { return calls_; }

 private:
  int fail_after_;
  std::atomic<int> calls_{0};
};

}  // namespace

TEST(ExplainWorkers, BatchesSideBySideEqualBatchesOneAtATime) {
  Threads one(1);
  auto req = workers_request(7);  // batches 0-1, 2-3, 4-5, 6
  auto serial = explain(*disc(), req, 2, {}, 1);
  EXPECT_EQ(serial.workers, 1);
  for (int64_t w : {2, 3}) {
    auto side = explain(*disc(), req, 2, {}, w);
    EXPECT_EQ(side.workers, w);
    expect_same(serial.result, side.result);
    EXPECT_TRUE(torch::equal(serial.scores.valid, side.scores.valid));
  }
  // More workers than batches: one per batch.
  EXPECT_EQ(explain(*disc(), req, 4, {}, 8).workers, 2);
  // One batch, or a method that does not declare its runs independent: one at a time.
  EXPECT_EQ(explain(*disc(), req, 64, {}, 2).workers, 1);
  OneAtATime serial_only(disc());
  EXPECT_EQ(explain(serial_only, req, 2, {}, 2).workers, 1);
}

// FIDO draws its Concrete noise from a generator of the run's own: side by side its maps,
// traces and steps are those of one batch at a time; so are occlusion's and the gradient's.
TEST(ExplainWorkers, SaliencyBatchesSideBySideEqualBatchesOneAtATime) {
  Threads one(1);
  auto req = workers_request(5);
  // With the random in-filler too: FIDO's fills come from the run's generator, occlusion's
  // from each item's own.
  for (auto [name, infill] :
       std::vector<std::pair<std::string, std::string>>{{"fido", "blur"},
                                                        {"fido", "random"},
                                                        {"occlusion", ""},
                                                        {"occlusion", "random"},
                                                        {"gradient", ""}}) {
    nlohmann::json opt = nlohmann::json::object();
    if (name == "fido") opt = {{"infill", infill}, {"steps", 30}, {"samples", 2}};
    if (name == "occlusion" && !infill.empty()) opt = {{"infill", infill}};
    auto serial = explain(*make_method(name, opt), req, 2, {}, 1);
    auto side = explain(*make_method(name, opt), req, 2, {}, 2);
    EXPECT_EQ(side.workers, 2) << name << infill;
    EXPECT_TRUE(torch::equal(serial.result.saliency, side.result.saliency)) << name << infill;
    if (name == "fido") {
      EXPECT_TRUE(torch::equal(serial.result.steps, side.result.steps));
      EXPECT_TRUE(torch::equal(serial.result.infilled, side.result.infilled));
      EXPECT_EQ(serial.result.loss_trace, side.result.loss_trace);
      // The draws differ between batches (each has its seed): not one map repeated.
      EXPECT_FALSE(torch::equal(serial.result.saliency[0], serial.result.saliency[2]));
    }
  }
}

// latent and aip draw nothing and share their loaded models read-only: side by side (the
// first two runs loading the models at once) they give what one batch at a time gives.
TEST(ExplainWorkers, LatentAndAipBatchesSideBySideEqualBatchesOneAtATime) {
  Threads one(1);
  Request req;
  req.classifier = load_classifier(cfx::testing::shipped_model("shapes-cnn.pt"));
  DatasetOptions d;
  d.split = "test";
  d.limit = 4;
  req.images = load_dataset("shapes", d).images;
  req.targets = (req.classifier->predict_proba(req.images).argmax(1) + 1) % 3;
  for (auto* name : {"latent", "aip"}) {
    nlohmann::json opt = nlohmann::json::object();
    if (std::string(name) == "aip") opt = {{"steps", 20}};
    auto serial = explain(*make_method(name, opt), req, 2, {}, 1);
    auto side = explain(*make_method(name, opt), req, 2, {}, 2);
    EXPECT_EQ(side.workers, 2) << name;
    EXPECT_TRUE(torch::equal(serial.result.counterfactuals, side.result.counterfactuals)) << name;
    EXPECT_TRUE(torch::equal(serial.result.reconstruction, side.result.reconstruction)) << name;
    EXPECT_EQ(serial.config, side.config) << name;
    EXPECT_FALSE(torch::equal(side.result.counterfactuals[0], side.result.counterfactuals[2]));
  }
}

TEST(ExplainWorkers, TheDefaultIsOneWorkerPerThreadEachWithOneThread) {
  auto req = workers_request(4);
  Explanation serial, side;
  {
    Threads one(1);
    serial = explain(*disc(), req, 2, {}, 1);
  }
  {
    Threads two(2);
    side = explain(*disc(), req, 2);
    EXPECT_EQ(side.workers, 2);
    EXPECT_EQ(threads(), 2);
    // The process-wide count is back too: a thread started now sizes its team from it.
    int in_new_thread = 0;
    std::thread([&] {
      at::internal::lazy_init_num_threads();
      in_new_thread = at::get_num_threads();
    }).join();
    EXPECT_EQ(in_new_thread, 2);
  }
  // Two workers of one thread each compute what one thread computes alone.
  expect_same(serial.result, side.result);
}

TEST(ExplainWorkers, ProgressIsOneCallerAtATimeInOrderAndWhole) {
  Threads one(1);
  auto req = workers_request(6);
  std::atomic<int> inside{0};
  bool overlapped = false, backwards = false;
  int64_t last_done = -1, last_open = -1, total = 0, calls = 0;
  req.progress = [&](int64_t done, int64_t all, int64_t open) {
    if (inside++ > 0) overlapped = true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // widen any race
    if (done < last_done) backwards = true;
    last_done = done, last_open = open, total = all, ++calls;
    --inside;
  };
  explain(*disc(), req, 2, {}, 3);
  EXPECT_FALSE(overlapped);
  EXPECT_FALSE(backwards);
  EXPECT_GT(calls, 4 * 3);  // steps of every batch, not one call per batch
  EXPECT_EQ(total, 6 * kProgressUnit);
  EXPECT_EQ(last_done, total);
  EXPECT_EQ(last_open, 0);
}

// Side by side, progress is reported on the calling thread (where Python sees Ctrl-C), and
// an error it throws stops every worker at its next step instead of letting them finish.
TEST(ExplainWorkers, ProgressRunsOnTheCallersThreadAndItsErrorStopsTheWorkers) {
  Threads one(1);
  Request req;
  auto F = std::make_shared<FailsLater>(1 << 30);  // never fails; counts calls
  req.classifier = F;
  req.images = torch::rand({8, 1, 8, 8});
  req.targets = torch::ones({8}, torch::kLong);
  const auto caller = std::this_thread::get_id();
  bool elsewhere = false;
  int calls_then = -1;
  req.progress = [&](int64_t done, int64_t, int64_t) {
    if (std::this_thread::get_id() != caller) elsewhere = true;
    if (done > 0 && calls_then < 0) {
      calls_then = F->calls();
      fail("interrupted by the user");
    }
  };
  // Items that never stop: without the cancel this would run 4 x 3000 steps.
  auto pixel = make_method("pixel", {{"steps", 3000}, {"confidence", 0.999999}});
  try {
    explain(*pixel, req, 2, {}, 2);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("interrupted"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(elsewhere);
  ASSERT_GE(calls_then, 0);
  // Each worker finishes at most the step it was in, and a few more run while the caller
  // waits its turn: far from the 12000 a finished run takes.
  EXPECT_LT(F->calls() - calls_then, 400);
}

TEST(ExplainWorkers, AFailingBatchStopsTheRunWithItsError) {
  Threads one(1);
  Request req;
  req.classifier = std::make_shared<FailsLater>(40);
  req.images = torch::rand({8, 1, 8, 8});
  req.targets = torch::ones({8}, torch::kLong);
  auto pixel = make_method("pixel", {{"steps", 200}});
  try {
    explain(*pixel, req, 2, {}, 2);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model exploded"), std::string::npos) << e.what();
  }
}

TEST(ExplainWorkers, BatchFilesOfOneModeResumeInTheOther) {
  Threads one(1);
  auto dir = cfx::testing::temp_dir("explain_workers") + "/batches";
  auto req = workers_request(6);
  auto side = explain(*disc(), req, 2, {dir, false}, 3);
  std::filesystem::remove(std::filesystem::path(dir) / "000002-000004.pt");
  auto resumed = explain(*disc(), req, 2, {dir, true}, 1);
  EXPECT_EQ(resumed.resumed_batches, 2);
  expect_same(side.result, resumed.result);
  auto again = explain(*disc(), req, 2, {dir, true}, 2);
  EXPECT_EQ(again.resumed_batches, 3);
  expect_same(side.result, again.result);
}

TEST(ExplainWorkers, AWorkerCountOutOfRangeIsRefused) {
  auto req = workers_request(4);
  EXPECT_THROW(explain(*disc(), req, 2, {}, -1), Error);
  EXPECT_THROW(explain(*disc(), req, 2, {}, 5000), Error);
}
