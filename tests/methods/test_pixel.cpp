#include <gtest/gtest.h>

#include "cfx/core/error.h"
#include "cfx/eval/explain.h"
#include "cfx/methods/inversion/inversion.h"
#include "cfx/methods/registry.h"
#include "helpers.h"

using namespace cfx;

namespace {

Request pixel_request(int64_t n, uint64_t seed = 0) {
  Request r;
  r.classifier = cfx::testing::toy_classifier("cnn");
  r.images = cfx::testing::toy_dataset(n, 21).images;
  r.targets = (r.classifier->predict_proba(r.images).argmax(1) + 1) % 3;
  r.seed = seed;
  return r;
}

}  // namespace

TEST(Pixel, ReachesTargetsForABatchWithPerItemTargets) {
  auto req = pixel_request(12);
  Inversion m("pixel", {});
  auto e = explain(m, req);
  EXPECT_GE(e.scores.valid.to(torch::kFloat).mean().item<double>(), 0.9);
  // Proximity: the counterfactual changes the image, but not beyond recognition.
  EXPECT_GT(e.scores.l1.mean().item<double>(), 0.0);
  EXPECT_LT(e.scores.l1.mean().item<double>(), 0.25);
  EXPECT_GE(e.result.counterfactuals.min().item<float>(), 0.f);
  EXPECT_LE(e.result.counterfactuals.max().item<float>(), 1.f);
}

TEST(Pixel, FinishedItemsStopChanging) {
  auto req = pixel_request(8);
  InversionOptions o;
  o.steps = 150;
  auto short_run = Inversion("pixel", o).run(req);
  o.steps = 400;
  auto long_run = Inversion("pixel", o).run(req);
  int64_t checked = 0;
  for (int64_t i = 0; i < 8; ++i) {
    if (!short_run.converged[i].item<bool>()) continue;
    ++checked;
    // An item that stopped at step s is identical whatever the step budget beyond s.
    EXPECT_EQ(short_run.steps[i].item<int64_t>(), long_run.steps[i].item<int64_t>());
    EXPECT_TRUE(torch::equal(short_run.counterfactuals[i], long_run.counterfactuals[i]));
    EXPECT_EQ(short_run.target_prob_trace[i].size(),
              static_cast<size_t>(short_run.steps[i].item<int64_t>() + 1));
  }
  EXPECT_GT(checked, 0);
  // Items do not all stop at once: early stopping is per item.
  auto s = long_run.steps.to(torch::kFloat);
  EXPECT_GT(s.max().item<float>(), s.min().item<float>());
}

TEST(Pixel, ResultOfAnItemDoesNotDependOnItsBatch) {
  auto req = pixel_request(6);
  Inversion m("pixel", {});
  auto all = m.run(req);
  Request one = req;
  one.images = req.images.slice(0, 2, 3);
  one.targets = req.targets.slice(0, 2, 3);
  auto single = m.run(one);
  EXPECT_EQ(all.steps[2].item<int64_t>(), single.steps[0].item<int64_t>());
  EXPECT_TRUE(torch::allclose(all.counterfactuals[2], single.counterfactuals[0], 1e-4, 1e-5));
}

TEST(Pixel, SameSeedSameOutput) {
  auto req = pixel_request(4, 5);
  auto a = Inversion("pixel", {}).run(req), b = Inversion("pixel", {}).run(req);
  EXPECT_TRUE(torch::equal(a.counterfactuals, b.counterfactuals));
}

TEST(Pixel, SigmoidParameterisationAlsoWorks) {
  auto req = pixel_request(6);
  InversionOptions o;
  o.prior.param = "sigmoid";
  o.lr = 0.1;
  Inversion m("pixel", o);
  auto e = explain(m, req);
  EXPECT_GE(e.scores.valid.to(torch::kFloat).mean().item<double>(), 0.8);
}

TEST(Pixel, HigherL1WeightGivesCloserCounterfactuals) {
  auto req = pixel_request(8);
  InversionOptions lo, hi;
  lo.l1 = 0.0;
  lo.tv = 0.0;
  hi.l1 = 8.0;
  hi.tv = 0.0;
  lo.confidence = hi.confidence = 0.9;
  Inversion a("pixel", lo), b("pixel", hi);
  auto ea = explain(a, req), eb = explain(b, req);
  EXPECT_LT(eb.scores.l1.mean().item<double>(), ea.scores.l1.mean().item<double>());
}

TEST(Pixel, OptionsAreValidatedAndRoundTrip) {
  EXPECT_THROW(InversionOptions::from_json({{"steps", 0}}), Error);
  EXPECT_THROW(InversionOptions::from_json({{"lr", -1}}), Error);
  EXPECT_THROW(InversionOptions::from_json({{"confidence", 1.5}}), Error);
  EXPECT_THROW(InversionOptions::from_json({{"param", "fourier"}}), Error);
  EXPECT_THROW(InversionOptions::from_json({{"stepz", 3}}), Error);
  EXPECT_THROW(InversionOptions::from_json({{"steps", "many"}}), Error);
  auto o = InversionOptions::from_json({{"steps", 7}, {"tv", 0.5}});
  EXPECT_EQ(o.steps, 7);
  EXPECT_EQ(InversionOptions::from_json(o.to_json()).to_json(), o.to_json());
}

TEST(Pixel, RequestValidationCatchesBadInput) {
  auto req = pixel_request(2);
  Inversion m("pixel", {});
  auto bad = req;
  bad.targets = torch::tensor({0, 3}, torch::kLong);
  EXPECT_THROW(m.run(bad), Error);
  bad = req;
  bad.images = req.images.clone();
  bad.images[0][0][0][0] = std::nanf("");
  EXPECT_THROW(m.run(bad), Error);
  bad = req;
  bad.images = torch::rand({2, 3, 12, 12});
  EXPECT_THROW(m.run(bad), Error);
  bad = req;
  bad.targets = torch::tensor({0}, torch::kLong);
  EXPECT_THROW(m.run(bad), Error);
}

TEST(Registry, KnowsPixelAndRejectsUnknownNames) {
  EXPECT_EQ(make_method("pixel")->name(), "pixel");
  EXPECT_EQ(make_method("pixel", {{"steps", 9}})->config()["options"]["steps"], 9);
  try {
    make_method("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pixel"), std::string::npos);
  }
}

// Progress is reported per optimisation step, in work units, so a bar moves inside a long
// batch (issue: FIDO sat at 0% for minutes), never goes back, and ends at the total.
TEST(Explain, ProgressMovesWithinEachBatchAndEndsAtTheTotal) {
  auto req = pixel_request(6);
  std::vector<int64_t> done;
  int64_t total = -1;
  req.progress = [&](int64_t d, int64_t t, int64_t active) {
    done.push_back(d);
    total = t;
    EXPECT_GE(active, 0);
    EXPECT_LE(active, 6);
  };
  Inversion m("pixel", {});
  explain(m, req, /*batch_size=*/3);
  ASSERT_FALSE(done.empty());
  EXPECT_EQ(total, 6 * kProgressUnit);
  for (size_t k = 1; k < done.size(); ++k) EXPECT_GE(done[k], done[k - 1]) << k;
  EXPECT_LE(done.back(), total);
  EXPECT_EQ(done.back(), total);
  // Inside the first batch (before its items all stop) the count already moved.
  int64_t inside = 0;
  for (int64_t d : done) inside += d > 0 && d < 3 * kProgressUnit;
  EXPECT_GE(inside, 10);
}
