#include <gtest/gtest.h>

#include "cfx/eval/metrics.h"
#include "cfx/report/images.h"
#include "helpers.h"

using namespace cfx;

TEST(Metrics, ProximityOfAKnownChange) {
  auto F = cfx::testing::toy_classifier("cnn");
  auto x = torch::full({1, 1, 12, 12}, 0.5);
  auto xcf = x.clone();
  xcf.index_put_({0, 0, 0, torch::indexing::Slice(0, 12)}, 0.9);  // one row of 12 pixels
  auto s = score_counterfactuals(*F, x, xcf, torch::tensor({1}, torch::kLong));
  EXPECT_NEAR(s.l1[0].item<double>(), 12 * 0.4 / 144, 1e-6);
  EXPECT_NEAR(s.l2[0].item<double>(), 12 * 0.16 / 144, 1e-6);
  EXPECT_NEAR(s.l0[0].item<double>(), 12.0 / 144, 1e-6);
  EXPECT_EQ(s.valid[0].item<bool>(), s.cf_class[0].item<int64_t>() == 1);
}

TEST(Metrics, RunnerUpIsTheSecondMostLikelyClass) {
  auto F = cfx::testing::toy_classifier("cnn");
  auto x = cfx::testing::toy_dataset(10, 3, true).images;
  auto p = F->predict_proba(x);
  auto r = runner_up_classes(*F, x);
  for (int64_t i = 0; i < 10; ++i) {
    auto sorted = std::get<1>(p[i].sort(0, true));
    EXPECT_EQ(r[i].item<int64_t>(), sorted[1].item<int64_t>());
  }
}

TEST(Images, SignedDiffIsRedForBrighterBlueForDarker) {
  auto x = torch::full({1, 2, 2}, 0.5);
  auto xcf = x.clone();
  xcf[0][0][0] = 1.0;  // brighter
  xcf[0][1][1] = 0.0;  // darker
  auto d = signed_diff_image(x, xcf);
  ASSERT_EQ(d.sizes(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_FLOAT_EQ(d[0][0][0].item<float>(), 1.f);  // red channel full
  EXPECT_FLOAT_EQ(d[2][0][0].item<float>(), 0.f);  // no blue
  EXPECT_FLOAT_EQ(d[2][1][1].item<float>(), 1.f);  // blue channel full
  EXPECT_FLOAT_EQ(d[0][1][1].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(d[1][0][1].item<float>(), 1.f);  // unchanged: white
}
