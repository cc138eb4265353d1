// The causal estimators on cases whose scores are known analytically, the bar chart, and
// MNAC with the shipped shapes attribute classifier.
#include <gtest/gtest.h>

#include <cmath>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/data/dataset.h"
#include "cfx/eval/attribute_change.h"
#include "cfx/eval/causal.h"
#include "cfx/report/bar_chart.h"

using namespace cfx;

namespace {

// Samples of two independent fair attributes a0, a1 and an outcome given by `rule`, with
// perfect interventions: do(k on) sets a_k = 1, do(k off) sets a_k = 0, and the outcome after
// an intervention is the rule applied to the changed attributes. Probabilities are 0/1.
InterventionSamples perfect(
    int64_t n, uint64_t seed,
    const std::function<torch::Tensor(torch::Tensor, torch::Tensor)>& rule) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto a = torch::rand({n, 2}, gen) < 0.5;
  InterventionSamples s;
  s.names = {"a0", "a1"};
  s.attr = a;
  s.outcome = rule(a.select(1, 0), a.select(1, 1));
  s.prob = s.outcome.to(torch::kFloat);
  std::vector<torch::Tensor> on, off;
  for (int64_t k = 0; k < 2; ++k) {
    auto set = [&](bool v) {
      auto b = a.clone();
      b.select(1, k).fill_(v);
      return rule(b.select(1, 0), b.select(1, 1));
    };
    on.push_back(set(true));
    off.push_back(set(false));
  }
  s.outcome_on = torch::stack(on, 1);
  s.outcome_off = torch::stack(off, 1);
  s.prob_on = s.outcome_on.to(torch::kFloat);
  s.prob_off = s.outcome_off.to(torch::kFloat);
  s.took_on = torch::ones({n, 2}, torch::kBool);
  s.took_off = torch::ones({n, 2}, torch::kBool);
  return s;
}

}  // namespace

// outcome = a0: a0 is necessary and sufficient (all scores 1); a1 is irrelevant (all 0).
TEST(Causal, OutcomeThatReadsOneAttribute) {
  auto s = perfect(2000, 1, [](auto a0, auto) { return a0; });
  auto sc = causal_scores(s, {});
  ASSERT_EQ(sc.size(), 2u);
  EXPECT_DOUBLE_EQ(sc[0].necessity.estimate, 1.0);
  EXPECT_DOUBLE_EQ(sc[0].sufficiency.estimate, 1.0);
  EXPECT_DOUBLE_EQ(sc[0].nesuf.estimate, 1.0);
  EXPECT_DOUBLE_EQ(sc[0].contrastive.estimate, 1.0);
  EXPECT_DOUBLE_EQ(sc[1].necessity.estimate, 0.0);
  EXPECT_DOUBLE_EQ(sc[1].sufficiency.estimate, 0.0);
  EXPECT_DOUBLE_EQ(sc[1].nesuf.estimate, 0.0);
  // About half the samples meet each condition.
  EXPECT_NEAR(static_cast<double>(sc[0].necessity.n) / 2000, 0.5, 0.05);
  EXPECT_EQ(sc[0].nesuf.n, 2000);
  EXPECT_DOUBLE_EQ(sc[0].on_rate, 1.0);
}

// An edit that changes the image by itself: after any intervention the outcome flips with
// probability 0.3, whatever was asked. The rule ignores a1, yet its raw necessity is ~0.3;
// the placebo (asking for the state a1 already has) flips as often, and the adjusted score
// is ~0. For a0 the placebo is ~0.3 too and the adjusted necessity 0.7 - 0.3. With perfect
// edits (no flips) the placebo is exactly 0 and adjusted = raw.
TEST(Causal, ThePlaceboRemovesWhatTheEditDoesByItself) {
  auto s = perfect(4000, 5, [](auto a0, auto) { return a0; });
  auto exact = causal_scores(s, {});
  for (const auto& c : exact) {
    EXPECT_DOUBLE_EQ(c.necessity_placebo.estimate, 0.0);
    EXPECT_DOUBLE_EQ(c.sufficiency_placebo.estimate, 0.0);
    EXPECT_DOUBLE_EQ(c.necessity_adjusted.estimate, c.necessity.estimate);
    EXPECT_DOUBLE_EQ(c.sufficiency_adjusted.estimate, c.sufficiency.estimate);
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  auto noisy = s;
  noisy.outcome_on = s.outcome_on ^ (torch::rand(s.outcome_on.sizes(), gen) < 0.3);
  noisy.outcome_off = s.outcome_off ^ (torch::rand(s.outcome_off.sizes(), gen) < 0.3);
  auto sc = causal_scores(noisy, {});
  EXPECT_NEAR(sc[1].necessity.estimate, 0.3, 0.05);
  EXPECT_NEAR(sc[1].necessity_placebo.estimate, 0.3, 0.05);
  EXPECT_NEAR(sc[1].necessity_adjusted.estimate, 0.0, 0.05);
  EXPECT_LE(sc[1].necessity_adjusted.lo, 0.0);
  EXPECT_GE(sc[1].necessity_adjusted.hi, 0.0);
  EXPECT_NEAR(sc[1].sufficiency_adjusted.estimate, 0.0, 0.05);
  EXPECT_NEAR(sc[0].necessity.estimate, 0.7, 0.05);
  EXPECT_NEAR(sc[0].necessity_placebo.estimate, 0.3, 0.05);
  EXPECT_NEAR(sc[0].necessity_adjusted.estimate, 0.4, 0.05);
  EXPECT_EQ(sc[0].necessity_adjusted.n, sc[0].necessity.n);
}

// Three shift predictors that disagree: one whose edits flip the outcome by themselves 10% of
// the time, one 30%, one 50%. Interleaved, the estimate is the pooled one, and the two-level
// bootstrap (predictors, then samples) gives a far wider interval than pooling them as one
// predictor would — the spread between predictors is part of the uncertainty.
TEST(Causal, GroupsOfShiftPredictorsWidenTheIntervals) {
  std::vector<InterventionSamples> parts;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  for (double flip : {0.1, 0.3, 0.5}) {
    auto p = perfect(2000, 11, [](auto a0, auto) { return a0; });
    p.outcome_off = p.outcome_off ^ (torch::rand(p.outcome_off.sizes(), gen) < flip);
    parts.push_back(p);
  }
  auto all = interleave_groups(parts);
  ASSERT_EQ(all.groups(), 3);
  ASSERT_EQ(all.outcome.size(0), 6000);
  // Row s * 3 + g is sample s of predictor g.
  EXPECT_TRUE(torch::equal(all.outcome_off.select(1, 1).slice(0, 2, 6000, 3),
                           parts[2].outcome_off.select(1, 1)));
  EXPECT_TRUE(torch::equal(all.group.slice(0, 0, 6), torch::tensor({0, 1, 2, 0, 1, 2})));
  CausalOptions co;
  co.bootstrap = 300;
  auto grouped = causal_scores(all, co);
  auto pooled_samples = all;
  pooled_samples.group = torch::Tensor();
  auto pooled = causal_scores(pooled_samples, co);
  // a1 is ignored by the rule: its necessity is the flip rate, 0.1 to 0.5 by predictor.
  EXPECT_NEAR(grouped[1].necessity.estimate, 0.3, 0.03);
  EXPECT_DOUBLE_EQ(grouped[1].necessity.estimate, pooled[1].necessity.estimate);
  EXPECT_EQ(grouped[1].necessity.n, pooled[1].necessity.n);
  const double wide = grouped[1].necessity.hi - grouped[1].necessity.lo;
  const double narrow = pooled[1].necessity.hi - pooled[1].necessity.lo;
  EXPECT_GT(wide, 4 * narrow);
  EXPECT_GT(wide, 0.2);
  // Same seed, same intervals; groups of unequal size are refused.
  EXPECT_DOUBLE_EQ(causal_scores(all, co)[1].necessity.lo, grouped[1].necessity.lo);
  auto bad = all;
  bad.group = torch::zeros({6000}, torch::kLong);
  bad.group[0] = 1;
  EXPECT_THROW(causal_scores(bad, co), cfx::Error);
}

// outcome = a0 AND a1 (independent, P = 1/2 each): necessity of a0 is 1 (every positive needs
// it); sufficiency of a0 is P(a1) = 1/2 (turning a0 on helps only where a1 holds);
// necessity-and-sufficiency is P(a1) - 0 = 1/2. The intervals must cover the truth and be
// narrow at n = 4000.
TEST(Causal, ConjunctionHasKnownScoresAndIntervalsCoverThem) {
  auto s = perfect(4000, 2, [](auto a0, auto a1) { return a0 & a1; });
  CausalOptions o;
  o.bootstrap = 500;
  auto sc = causal_scores(s, o);
  for (const auto& c : sc) {
    EXPECT_DOUBLE_EQ(c.necessity.estimate, 1.0) << c.attribute;
    EXPECT_NEAR(c.sufficiency.estimate, 0.5, 0.04) << c.attribute;
    EXPECT_NEAR(c.nesuf.estimate, 0.5, 0.04) << c.attribute;
    EXPECT_LE(c.sufficiency.lo, 0.5) << c.attribute;
    EXPECT_GE(c.sufficiency.hi, 0.5) << c.attribute;
    EXPECT_LT(c.sufficiency.hi - c.sufficiency.lo, 0.1) << c.attribute;
    EXPECT_LE(c.nesuf.lo, c.nesuf.estimate);
    EXPECT_GE(c.nesuf.hi, c.nesuf.estimate);
  }
}

// outcome = a0 OR a1: turning a0 off breaks the outcome only where a1 is off: necessity 1/2;
// sufficiency 1 (turning a0 on always gives the outcome).
TEST(Causal, DisjunctionHasKnownScores) {
  auto s = perfect(4000, 3, [](auto a0, auto a1) { return a0 | a1; });
  auto sc = causal_scores(s, {});
  EXPECT_NEAR(sc[0].necessity.estimate, 0.5, 0.04);
  EXPECT_DOUBLE_EQ(sc[0].sufficiency.estimate, 1.0);
  EXPECT_NEAR(sc[0].nesuf.estimate, 0.5, 0.04);
}

// Failed interventions are reported, and an empty condition gives an undefined estimate.
TEST(Causal, ReportsInterventionRateAndUndefinedConditions) {
  auto s = perfect(100, 4, [](auto a0, auto) { return a0; });
  s.took_on.select(1, 1).slice(0, 0, 25).fill_(false);
  s.attr.select(1, 1).fill_(true);  // a1 never off: sufficiency of a1 has no samples
  auto sc = causal_scores(s, {});
  EXPECT_DOUBLE_EQ(sc[1].on_rate, 0.75);
  EXPECT_EQ(sc[1].sufficiency.n, 0);
  EXPECT_TRUE(std::isnan(sc[1].sufficiency.estimate));
  EXPECT_TRUE(sc[1].sufficiency.to_json()["estimate"].is_null());
}

TEST(Causal, SameSeedSameIntervals) {
  auto s = perfect(500, 5, [](auto a0, auto a1) { return a0 & a1; });
  CausalOptions o;
  o.seed = 9;
  auto x = causal_scores(s, o), y = causal_scores(s, o);
  EXPECT_EQ(x[0].sufficiency.lo, y[0].sufficiency.lo);
  EXPECT_EQ(x[0].sufficiency.hi, y[0].sufficiency.hi);
}

TEST(Causal, RejectsBadOptionsAndShapes) {
  auto s = perfect(50, 6, [](auto a0, auto) { return a0; });
  CausalOptions o;
  o.bootstrap = 1;
  EXPECT_THROW(causal_scores(s, o), Error);
  o = {};
  o.confidence = 1.5;
  EXPECT_THROW(causal_scores(s, o), Error);
  s.outcome_on = s.outcome_on.slice(0, 0, 10);
  EXPECT_THROW(causal_scores(s, {}), Error);
}

TEST(BarChart, DrawsBarsWithTheirColoursAndRejectsRaggedSeries) {
  auto img = bar_chart({"a", "b"}, {{"s", {1.0, -0.5}, {0.9, -0.6}, {1.0, -0.4}}}, -1, 1, "t");
  ASSERT_EQ(img.dim(), 3);
  EXPECT_EQ(img.size(0), 3);
  // Somewhere the first series' colour (Okabe-Ito blue, RGB 0,114,178) is drawn.
  auto blue = (img[0] < 0.05) & ((img[1] - 114.0 / 255).abs() < 0.02) &
              ((img[2] - 178.0 / 255).abs() < 0.02);
  EXPECT_GT(blue.sum().item<int64_t>(), 100);
  EXPECT_THROW(bar_chart({"a", "b"}, {{"s", {1.0}, {1.0}, {1.0}}}, -1, 1, "t"), Error);
}

// MNAC counts the attributes the oracle sees flip: none for x against itself; for a shapes
// image against a copy with red and green channels swapped, the colour changes (red off,
// green on: 2 flips) and nothing else — one factor, since red and green are one exclusive
// group. A change of shape is likewise 2 attributes and 1 factor.
TEST(Mnac, CountsTheAttributesTheOracleSeesFlip) {
  auto A = load_attribute_classifier(std::string(CFX_SOURCE_DIR) + "/models/shapes-attributes.pt");
  DatasetOptions o;
  o.split = "test";
  o.shapes_count = 200;
  auto d = load_dataset("shapes", o);
  auto red = d.attributes.select(1, A->index_of("red")) > 0.5;
  auto x = d.images.index({red});
  auto same = attribute_change(*A, x, x);
  EXPECT_TRUE(torch::equal(same.attributes, torch::zeros({x.size(0)})));
  EXPECT_TRUE(torch::equal(same.factors, torch::zeros({x.size(0)})));
  auto swapped = torch::stack({x.select(1, 1), x.select(1, 0), x.select(1, 2)}, 1);
  auto change = attribute_change(*A, x, swapped);
  EXPECT_GT((change.attributes == 2).to(torch::kFloat).mean().item<double>(), 0.8)
      << change.attributes;
  EXPECT_GT((change.factors == 1).to(torch::kFloat).mean().item<double>(), 0.8) << change.factors;
  EXPECT_TRUE((change.factors <= change.attributes).all().item<bool>());
  // Against the next red image (often another shape, size or position): a group's flips count
  // once (attributes 0-2 are the shape group, 3-5 the colour group), the others as themselves.
  auto other = x.roll(1, 0);
  auto by_both = attribute_change(*A, x, other);
  auto probs = A->probs(x) > 0.5, others = A->probs(other) > 0.5;
  auto flipped = (probs != others);
  auto shape = flipped.slice(1, 0, 3).any(1), colour = flipped.slice(1, 3, 6).any(1);
  auto expected = (shape.to(torch::kFloat) + colour.to(torch::kFloat) +
                   flipped.slice(1, 6).sum(1).to(torch::kFloat));
  EXPECT_TRUE(torch::equal(by_both.factors, expected));
  EXPECT_TRUE(torch::equal(by_both.attributes, flipped.sum(1).to(torch::kFloat)));
  EXPECT_THROW(attribute_change(*A, x, swapped.slice(0, 0, 1)), Error);
}
