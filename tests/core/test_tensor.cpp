#include <gtest/gtest.h>
#include <torch/torch.h>

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

}  // namespace
}  // namespace cfx
