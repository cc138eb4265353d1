// Perturbation curves and COUT on a hand-made classifier whose probabilities are known.
#include <gtest/gtest.h>

#include "cfx/core/error.h"
#include "cfx/eval/perturbation_curve.h"
#include "models/hand_written.h"

using namespace cfx;

namespace {

// Two classes on 1×8×8 images: p_1 = min(1, 2 · mean(x)), p_0 = 1 − p_1.
class MeanClassifier : public cfx::testing::HandWritten {
 public:
  MeanClassifier() {
    info_.arch = "test";
    info_.input_shape = {1, 8, 8};
    info_.class_names = {"dark", "bright"};
  }
  torch::Tensor logits(const torch::Tensor& x) override {
    auto p1 = (2 * x.flatten(1).mean(1)).clamp(0, 1);
    return torch::stack({(1 - p1 + 1e-12).log(), (p1 + 1e-12).log()}, 1);
  }
};

}  // namespace

TEST(PerturbationCurve, RanksAndPathFollowTheScores) {
  auto scores = torch::tensor({0.f, 3.f, 1.f, 3.f}).view({1, 1, 2, 2});
  auto r = pixel_ranks(scores);
  // 3 (first in raster order) → 0, the other 3 → 1, 1 → 2, 0 → 3.
  EXPECT_TRUE(torch::equal(r, torch::tensor({{3, 0, 2, 1}}, torch::kLong)));
  auto c = torch::tensor({{0.f, 0.5f, 1.f}, {1.f, 1.f, 1.f}});
  auto auc = curve_auc(c);
  EXPECT_NEAR(auc[0].item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(auc[1].item<double>(), 1.0, 1e-6);
}

TEST(Cout, KnownValueOnAHandMadeCase) {
  MeanClassifier F;
  const int64_t steps = 8;
  auto x = torch::zeros({3, 1, 8, 8});
  auto xcf = x.clone();
  // Item 0: the left half becomes white. Its 32 pixels are pasted first, 8 a step, so
  // p_1 = 0, .25, .5, .75, 1, 1, 1, 1, 1: AUC(p_t) = 0.75, AUC(p_s) = 0.25, COUT = 0.5.
  xcf[0].slice(2, 0, 4).fill_(1.f);
  // Item 1: no change: p_t stays 0 and p_s 1, COUT = −1.
  // Item 2: the white half plus a faint change everywhere else (ranked after the white
  // pixels): the same curve up to the last steps, where p_1 is already clamped at 1.
  xcf[2].fill_(0.01f);
  xcf[2].slice(2, 0, 4).fill_(1.f);
  auto targets = torch::tensor({1, 1, 1}, torch::kLong);
  auto s = cout_scores(F, x, xcf, targets, steps);
  ASSERT_EQ(s.target_curve.sizes(), (std::vector<int64_t>{3, steps + 1}));
  std::vector<float> expect{0, .25f, .5f, .75f, 1, 1, 1, 1, 1};
  for (int64_t k = 0; k <= steps; ++k) {
    EXPECT_NEAR(s.target_curve[0][k].item<float>(), expect[k], 1e-5) << k;
    EXPECT_NEAR(s.source_curve[0][k].item<float>(), 1 - expect[k], 1e-5) << k;
  }
  EXPECT_NEAR(s.cout[0].item<float>(), 0.5, 1e-5);
  EXPECT_NEAR(s.cout[1].item<float>(), -1.0, 1e-5);
  EXPECT_NEAR(s.cout[2].item<float>(), 0.5, 1e-5);
  // Pasting in the opposite order (least changed first) would give a lower value: the
  // ordering by |x̄ − x| matters.
  auto worst = pixel_ranks(-(xcf - x).abs().sum(1));
  auto p = paste_curve(F, x, xcf, worst, steps).select(2, 1);
  EXPECT_LT(curve_auc(p.slice(0, 2, 3))[0].item<float>(), 0.75f);
  EXPECT_THROW(cout_scores(F, x, xcf.slice(0, 0, 2), targets, steps), Error);
  EXPECT_THROW(cout_scores(F, x, xcf, targets, 0), Error);
}
