// The shared AIP optimisation on hand-made logits functions, where the right answer is known.
#include <gtest/gtest.h>

#include "cfx/core/error.h"
#include "cfx/methods/aip/search.h"

using namespace cfx;

namespace {

// Mostly attribute 2; attribute 3 counts 20 times less, z and the others not at all.
torch::Tensor reads_attribute_2(const torch::Tensor& z, const torch::Tensor& a,
                                const torch::Tensor&) {
  auto s = 20 * (a.select(1, 2) - 0.5) + (a.select(1, 3) - 0.5) + 0 * z.sum(1);
  return torch::stack({-s, s}, 1);
}

}  // namespace

TEST(AipSearch, OnlyTheAttributeTheClassifierReadsChanges) {
  const int64_t n = 6;
  auto z0 = torch::randn({n, 4}, at::make_generator<at::CPUGeneratorImpl>(1));
  auto a0 = torch::full({n, 5}, 0.2);
  a0.select(1, 4).fill_(0.9);
  auto targets = torch::ones({n}, torch::kLong);
  AipSearchOptions o;
  o.optimise_z = false;
  o.steps = 200;
  o.confidence = 0.9;
  auto r = aip_search(reads_attribute_2, z0, a0, targets, o);
  EXPECT_TRUE(r.converged.all().item<bool>());
  auto change = (r.a - a0).abs();
  EXPECT_TRUE((r.a.select(1, 2) > 0.5).all().item<bool>());
  // Attributes F ignores stay where they were, and so does attribute 3: its gradient is 1/20
  // of attribute 2's, below beta = 0.1, so the ℓ1 prox holds it at a0 exactly (Adam on a
  // would move it as fast as attribute 2).
  EXPECT_LT(change.index_select(1, torch::tensor({0, 1, 3, 4})).max().item<float>(), 1e-6);
  EXPECT_TRUE(torch::equal(r.z, z0));
  EXPECT_TRUE((r.a >= 0).all().item<bool>() && (r.a <= 1).all().item<bool>());
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(static_cast<int64_t>(r.target_prob_trace[i].size()), r.steps[i].item<int64_t>() + 1);
    EXPECT_GE(r.target_prob_trace[i].back(), 0.9f);
  }
}

TEST(AipSearch, LatentOnlyAndPerItemStops) {
  // F reads the first latent coordinate; items start at different distances from the boundary.
  auto logits = [](const torch::Tensor& z, const torch::Tensor& a, const torch::Tensor&) {
    auto s = 4 * z.select(1, 0) + 0 * a.sum(1);
    return torch::stack({-s, s}, 1);
  };
  auto z0 = torch::zeros({3, 2});
  z0.select(1, 0).copy_(torch::tensor({-0.5f, -2.0f, 1.0f}));
  auto a0 = torch::full({3, 3}, 0.5);
  auto targets = torch::tensor({1, 1, 0}, torch::kLong);
  AipSearchOptions o;
  o.optimise_a = false;
  o.lr = 0.05;
  auto r = aip_search(logits, z0, a0, targets, o);
  EXPECT_TRUE(r.converged.all().item<bool>());
  EXPECT_TRUE(torch::equal(r.a, a0));
  EXPECT_LT(r.steps[0].item<int64_t>(), r.steps[1].item<int64_t>());  // closer: stops sooner
  EXPECT_FLOAT_EQ(r.z[1][1].item<float>(), 0.f);  // a coordinate F ignores stays
  // An item's path does not depend on its batch.
  auto alone = aip_search(logits, z0.slice(0, 1, 2), a0.slice(0, 1, 2), targets.slice(0, 1, 2), o);
  EXPECT_TRUE(torch::equal(alone.z[0], r.z[1]));
  EXPECT_EQ(alone.steps[0].item<int64_t>(), r.steps[1].item<int64_t>());
  // An unreachable budget: not converged, steps = the budget.
  o.steps = 3;
  auto cut = aip_search(logits, z0, a0, targets, o);
  EXPECT_FALSE(cut.converged[1].item<bool>());
  EXPECT_EQ(cut.steps[1].item<int64_t>(), 3);
}

TEST(AipSearch, BadOptionsNameTheField) {
  AipSearchOptions o;
  o.alpha = -1;
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.optimise_a = o.optimise_z = false;
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.confidence = 1;
  EXPECT_THROW(o.validate(), Error);
}
