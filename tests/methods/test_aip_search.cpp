// The shared AIP optimisation on hand-made logits functions, where the right answer is known.
#include <gtest/gtest.h>

#include <cmath>

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

// The greedy step chooses by what a whole edit does. Here F's slope at the start is steep in
// attribute 0, which saturates short of the boundary, and zero in attribute 1, whose whole edit
// crosses it: the proximal gradient step moves only attribute 0 and never converges, the
// greedy step moves only attribute 1.
TEST(AipSearch, GreedyStepFollowsWholeEditsNotTheSlopeAtTheStart) {
  auto logits = [](const torch::Tensor& z, const torch::Tensor& a, const torch::Tensor&) {
    auto s = -2 + 1.5 * (1 - torch::exp(-20 * a.select(1, 0))) + 4 * a.select(1, 1).pow(2) +
             0 * z.sum(1);
    return torch::stack({-s, s}, 1);
  };
  const int64_t n = 4;
  auto z0 = torch::zeros({n, 2});
  auto a0 = torch::zeros({n, 3});
  a0.select(1, 1).copy_(torch::tensor({0.f, 0.1f, 0.2f, 0.3f}));
  auto targets = torch::ones({n}, torch::kLong);
  AipSearchOptions o;
  o.optimise_z = false;
  o.steps = 100;
  auto by_slope = aip_search(logits, z0, a0, targets, o);
  // Item 0 starts where attribute 1's slope is zero.
  EXPECT_FALSE(by_slope.converged[0].item<bool>());
  EXPECT_GT(by_slope.a[0][0].item<float>(), 0.5f);
  EXPECT_EQ(by_slope.a[0][1].item<float>(), 0.f);
  o.attribute_step = "greedy";
  auto r = aip_search(logits, z0, a0, targets, o);
  EXPECT_TRUE(r.converged.all().item<bool>());
  EXPECT_TRUE(torch::equal(r.a.select(1, 0), a0.select(1, 0)));
  EXPECT_TRUE(torch::equal(r.a.select(1, 2), a0.select(1, 2)));
  EXPECT_TRUE((r.a.select(1, 1) > std::sqrt(0.5f)).all().item<bool>());
  // attribute_lr per step: from 0 to past 0.707 takes 15 steps.
  EXPECT_EQ(r.steps[0].item<int64_t>(), 15);
  auto alone = aip_search(logits, z0.slice(0, 2, 3), a0.slice(0, 2, 3), targets.slice(0, 2, 3), o);
  EXPECT_TRUE(torch::equal(alone.a[0], r.a[2]));
  o.attribute_step = "sideways";
  EXPECT_THROW(o.validate(), Error);
}

// With an exclusive group (attributes 0 and 1, one-hot at the start) the greedy step switches
// the group over as a whole, and never switches its member off alone, even where F would
// prefer the group empty: the cvae is only trained on one-hot groups.
TEST(AipSearch, GreedyStepMovesExclusiveGroupsAsOneEdit) {
  auto logits = [](const torch::Tensor& z, const torch::Tensor& a, const torch::Tensor&) {
    auto off0 = 1 - a.select(1, 0), a1 = a.select(1, 1);
    auto s = -2 + 3 * a1 * off0 + 5 * off0 * (1 - a1) + 0 * a.select(1, 2) + 0 * z.sum(1);
    return torch::stack({-s, s}, 1);
  };
  auto z0 = torch::zeros({2, 2});
  auto a0 = torch::tensor({1.f, 0.f, 0.f}).repeat({2, 1});
  auto targets = torch::ones({2}, torch::kLong);
  auto exclusive = torch::tensor({0, 1, 0, 1, 0, 0, 0, 0, 0}, torch::kBool).view({3, 3});
  AipSearchOptions o;
  o.optimise_z = false;
  o.attribute_step = "greedy";
  auto r = aip_search(logits, z0, a0, targets, o, {}, exclusive);
  EXPECT_TRUE(r.converged.all().item<bool>());
  EXPECT_TRUE(torch::allclose(r.a.select(1, 1), 1 - r.a.select(1, 0)));  // a swap
  EXPECT_GT(r.a[0][1].item<float>(), 0.3f);
  EXPECT_EQ(r.a[0][2].item<float>(), 0.f);
  // Without the group the cheapest edit empties it: attribute 1 never moves.
  auto loose = aip_search(logits, z0, a0, targets, o);
  EXPECT_TRUE(loose.converged.all().item<bool>());
  EXPECT_EQ(loose.a[0][1].item<float>(), 0.f);
  EXPECT_LT(loose.a[0][0].item<float>(), 1.f);
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

// A fixed attribute stays at a0 under both steps, even the one F reads most: the search
// reaches the target through what is left (here attribute 3, which F reads 20 times less),
// and the greedy step runs no probe that would move it — nor one that switches on a member
// of its exclusive group.
TEST(AipSearch, FixedAttributesStayWhereTheyStarted) {
  const int64_t n = 3;
  auto z0 = torch::zeros({n, 2});
  auto a0 = torch::full({n, 5}, 0.2);
  auto targets = torch::ones({n}, torch::kLong);
  auto fixed = torch::tensor({0, 0, 1, 0, 0}, torch::kBool);
  AipSearchOptions o;
  o.optimise_z = false;
  o.steps = 300;
  for (const std::string step : {"gradient", "greedy"}) {
    o.attribute_step = step;
    auto free = aip_search(reads_attribute_2, z0, a0, targets, o);
    EXPECT_GT(free.a[0][2].item<float>(), 0.5f) << step;
    int64_t calls = 0;
    auto counting = [&](const torch::Tensor& z, const torch::Tensor& a, const torch::Tensor& i) {
      // Every row F sees keeps attribute 2 at a0: no probe moved it.
      EXPECT_TRUE(torch::equal(a.select(1, 2), torch::full({a.size(0)}, 0.2, a.options())));
      ++calls;
      return reads_attribute_2(z, a, i);
    };
    auto r = aip_search(counting, z0, a0, targets, o, {}, {}, fixed);
    EXPECT_GT(calls, 0);
    EXPECT_TRUE(torch::equal(r.a.select(1, 2), a0.select(1, 2))) << step;
    // 20·(0.2 − 0.5) + (a3 − 0.5) > 0 needs a3 > 6.5: out of reach, so F never decides the
    // target, and attribute 3 is what moved (to its end of the cube).
    EXPECT_FALSE(r.converged.any().item<bool>()) << step;
    EXPECT_GT(r.a[0][3].item<float>(), 0.9f) << step;
  }
  // Fixing a member of an exclusive group (0 and 2 here) keeps the greedy step from switching
  // the other member on, which would switch it off.
  auto exclusive = torch::zeros({5, 5}, torch::kBool);
  exclusive[0][2] = exclusive[2][0] = true;
  auto one_hot = a0.clone();
  one_hot.select(1, 0).fill_(0);
  one_hot.select(1, 2).fill_(1);
  auto reads_0 = [](const torch::Tensor& z, const torch::Tensor& a, const torch::Tensor&) {
    auto s = 20 * (a.select(1, 0) - 0.5) + 0 * z.sum(1);
    return torch::stack({-s, s}, 1);
  };
  o.attribute_step = "greedy";
  auto swapped = aip_search(reads_0, z0, one_hot, targets, o, {}, exclusive);
  EXPECT_TRUE(swapped.converged.all().item<bool>());
  auto kept = aip_search(reads_0, z0, one_hot, targets, o, {}, exclusive, fixed);
  EXPECT_TRUE(torch::equal(kept.a, one_hot));
}
