#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cfx/core/error.h"
#include "cfx/core/tensor.h"
#include "cfx/data/shapes.h"

namespace cfx {
namespace {

// A step edge [0, 0, 1, 1] drawn as a ramp [0, .25, .75, 1]: the ramp's neighbour differences
// are .25, .5, .25 where the step's are 0, 1, 0, so the term is .25 + .5 + .25 = 1.
TEST(EdgeDifference, SumsTheMismatchOfNeighbourDifferences) {
  auto step = torch::tensor({0.f, 0.f, 1.f, 1.f}).view({1, 1, 1, 4});
  auto ramp = torch::tensor({0.f, .25f, .75f, 1.f}).view({1, 1, 1, 4});
  EXPECT_NEAR(edge_difference(ramp, step).item<double>(), 1.0, 1e-6);
  // Vertical differences count the same way (the transpose gives the same value).
  EXPECT_NEAR(edge_difference(ramp.transpose(2, 3), step.transpose(2, 3)).item<double>(), 1.0,
              1e-6);
  // Zero for the image itself and for a brightness offset (edges unchanged): unlike L1, it
  // measures edges only.
  EXPECT_EQ(edge_difference(step, step).item<double>(), 0.0);
  EXPECT_NEAR(edge_difference(step + 0.1, step).item<double>(), 0.0, 1e-6);
  EXPECT_THROW(edge_difference(ramp, step.view({1, 1, 4, 1})), c10::Error);
}

// Total variation is the mean absolute neighbour difference per direction, summed, per item.
TEST(TotalVariation, MeansTheNeighbourDifferencesPerDirection) {
  // Row [0, 0, 1, 1] twice: horizontal differences 0, 1, 0 (mean 1/3), vertical all 0.
  auto step = torch::tensor({0.f, 0.f, 1.f, 1.f}).repeat({2}).view({1, 1, 2, 4});
  EXPECT_NEAR(total_variation(step).item<double>(), 1.0 / 3, 1e-6);
  EXPECT_NEAR(total_variation(step.transpose(2, 3)).item<double>(), 1.0 / 3, 1e-6);
  auto both = torch::cat({step, torch::zeros_like(step)});
  auto tv = total_variation(both);
  ASSERT_EQ(tv.sizes(), torch::IntArrayRef({2}));
  EXPECT_EQ(tv[1].item<double>(), 0.0);
}

// On the renderer's images, a blur pays in proportion to how much it softens, per item, and
// a gradient step on the blurred image lowers the term (it can be trained on).
TEST(EdgeDifference, BlurPaysAndTheGradientSharpens) {
  ShapesOptions o;
  o.count = 16;
  auto x = generate_shapes(o).images;
  auto blur = [](const torch::Tensor& t, int k) {
    namespace F = torch::nn::functional;
    auto padded =
        F::pad(t, F::PadFuncOptions({k / 2, k / 2, k / 2, k / 2}).mode(torch::kReplicate));
    return torch::avg_pool2d(padded, {k, k}, {1, 1});
  };
  auto d3 = edge_difference(blur(x, 3), x), d5 = edge_difference(blur(x, 5), x);
  ASSERT_EQ(d3.sizes(), (torch::IntArrayRef{16}));
  EXPECT_TRUE((d3 > 1.0).all().item<bool>()) << d3;
  EXPECT_TRUE((d5 > d3).all().item<bool>()) << d5 - d3;
  auto y = blur(x, 3).detach().requires_grad_(true);
  auto before = edge_difference(y, x).sum();
  before.backward();
  ASSERT_TRUE(y.grad().isfinite().all().item<bool>());
  auto after = edge_difference(y.detach() - 0.01 * y.grad(), x).sum();
  EXPECT_LT(after.item<double>(), before.item<double>());
}

// A drawing at s times the resolution comes back as the logits of its block means: σ of the
// result is avg_pool(σ(l), s) (what a renderer's antialiasing does), a block of saturated
// sub-pixels half on and half off is exactly 0.5 with finite gradients, and s = 1 is l.
TEST(BoxAverageLogits, IsTheLogitOfTheBlockMeanOfTheProbabilities) {
  torch::manual_seed(0);
  auto l = 4 * torch::randn({2, 3, 8, 12});
  for (int64_t s : {2, 4}) {
    auto want = torch::avg_pool2d(torch::sigmoid(l), s);
    auto got = torch::sigmoid(box_average_logits(l, s));
    EXPECT_EQ(got.sizes(), want.sizes());
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-6)) << (got - want).abs().max();
  }
  EXPECT_TRUE(torch::equal(box_average_logits(l, 1), l));
  // Half of a 2x2 block at +60, half at −60: σ saturates to 1 and 0 in float, the mean is 0.5.
  auto sat = torch::tensor({60.f, 60.f, -60.f, -60.f}).view({1, 1, 2, 2}).requires_grad_();
  auto out = box_average_logits(sat, 2);
  EXPECT_NEAR(out.item<double>(), 0.0, 1e-6);
  out.backward();
  EXPECT_TRUE(torch::isfinite(sat.grad()).all().item<bool>()) << sat.grad();
  EXPECT_THROW(box_average_logits(l, 5), Error);  // 8 x 12 does not tile into 5 x 5
}

TEST(GaussianBlur, PerItemSigmaBlursEachItemAsItsOwnBlurDoes) {
  torch::manual_seed(0);
  auto x = torch::rand({3, 3, 9, 11});
  auto got = gaussian_blur(x, torch::tensor({0.0f, 0.6f, 1.5f}));
  ASSERT_EQ(got.sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(got[0], x[0]));  // σ 0 leaves its item as it is
  // σ 0.6 gets the radius of 1.5 here (5 taps each side, not 2); the extra taps weigh < 4e-6.
  for (auto [i, sigma] : {std::pair<int64_t, double>{1, 0.6}, {2, 1.5}}) {
    auto want = gaussian_blur(x.slice(0, i, i + 1), sigma)[0];
    EXPECT_TRUE(torch::allclose(got[i], want, 1e-5, 1e-5)) << i << (got[i] - want).abs().max();
  }
  auto tv = total_variation(got);
  EXPECT_GT(tv[1].item<double>(), tv[2].item<double>());  // more blur, less contrast
  EXPECT_LT(tv[2].item<double>(), 0.5 * total_variation(x)[2].item<double>());
  auto flat = torch::full({2, 1, 6, 6}, 0.3);
  EXPECT_TRUE(torch::allclose(gaussian_blur(flat, torch::tensor({0.5f, 2.0f})), flat));
  EXPECT_THROW(gaussian_blur(x, torch::tensor({-0.1f, 0.f, 0.f})), Error);
  EXPECT_THROW(gaussian_blur(x, torch::tensor({NAN, 0.f, 0.f})), Error);
  EXPECT_THROW(gaussian_blur(x, torch::tensor({1.f, 1.f})), Error);  // one σ per item
  EXPECT_THROW(gaussian_blur(x, 0.0), Error);
}

}  // namespace
}  // namespace cfx
