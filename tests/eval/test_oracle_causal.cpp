// Global causal scores through the oracle generator (the shapes renderer) are the true ones: on
// a hand-written classifier whose rule is the object's colour, they are exactly 1 for the
// colour and exactly 0 for every attribute the rule ignores.
#include <gtest/gtest.h>

#include <cmath>

#include "cfx/core/error.h"
#include "cfx/data/shapes.h"
#include "cfx/eval/oracle_causal.h"
#include "data/temp_dir.h"
#include "models/hand_written.h"

using namespace cfx;

namespace {

// Decides red / green / blue by the pixels whose colour stands out of their grey: the object
// is the only coloured thing in a shapes image, so this is the "colour" rule, exactly.
class ReadsColour : public cfx::testing::HandWritten {
 public:
  explicit ReadsColour(int64_t size) {
    info_.arch = "hand-written";
    info_.source = "reads-colour";
    info_.input_shape = {3, size, size};
    info_.class_names = {"red", "green", "blue"};
    info_.dataset = "shapes";
  }
  torch::Tensor logits(const torch::Tensor& x) override {
    auto excess = torch::relu(x - x.mean(1, true));  // [N, 3, H, W]
    return 50.0 * excess.mean({2, 3});
  }
};

ShapesScenes scenes(int64_t n, int64_t size = 32) {
  ShapesOptions o;
  o.split = "test";
  o.count = n;
  o.size = size;
  return shapes_scenes(o);
}

}  // namespace

TEST(OracleCausal, TheColourRuleGetsItsTrueScores) {
  ReadsColour F(32);
  auto sc = scenes(300);
  // The classifier is the rule: it reads every scene's colour.
  auto p = F.predict_proba(render_shapes(sc)).argmax(1);
  ASSERT_TRUE(torch::equal(p, sc.scenes.select(1, 1).to(torch::kLong)));
  int64_t calls = 0;
  auto s = sample_oracle_interventions(F, {0}, sc, 64, "", [&](int64_t done, int64_t all, int64_t) {
    ++calls;
    EXPECT_EQ(all, 300);
    EXPECT_LE(done, 300);
  });
  EXPECT_EQ(calls, 5);
  ASSERT_EQ(s.names, shapes_attribute_names());
  CausalOptions co;
  co.bootstrap = 50;
  auto scores = causal_scores(s, co);
  for (const auto& c : scores) {
    SCOPED_TRACE(c.attribute);
    EXPECT_EQ(c.on_rate, 1.0);
    EXPECT_EQ(c.off_rate, 1.0);
    if (c.attribute == "red") {
      EXPECT_EQ(c.necessity.estimate, 1.0);
      EXPECT_EQ(c.sufficiency.estimate, 1.0);
      EXPECT_EQ(c.nesuf.estimate, 1.0);
    } else if (c.attribute == "green" || c.attribute == "blue") {
      // Never on together with "red": necessity undefined; turning it on removes red.
      EXPECT_EQ(c.necessity.n, 0);
      EXPECT_LT(c.nesuf.estimate, -0.3);
    } else {
      EXPECT_EQ(c.necessity.estimate, 0.0);
      EXPECT_EQ(c.sufficiency.estimate, 0.0);
      EXPECT_EQ(c.nesuf.estimate, 0.0);
      EXPECT_GT(c.necessity.n, 20);
    }
  }
}

TEST(OracleCausal, ScoresOnlyTheNamedAttributesAndRejectsWhatDoesNotFit) {
  ReadsColour F(32);
  auto s = sample_oracle_interventions(F, {2}, scenes(20), 8, "blue,left");
  EXPECT_EQ(s.names, (std::vector<std::string>{"blue", "left"}));
  EXPECT_EQ(s.outcome_on.sizes(), (std::vector<int64_t>{20, 2}));
  EXPECT_TRUE(
      test::throws_naming([&] { sample_oracle_interventions(F, {0}, scenes(4), 8, "purple"); },
                          "unknown attribute 'purple'"));
  EXPECT_TRUE(test::throws_naming([&] { sample_oracle_interventions(F, {3}, scenes(4), 8, ""); },
                                  "out of range"));
  EXPECT_TRUE(test::throws_naming(
      [&] { sample_oracle_interventions(F, {0}, scenes(4, 24), 8, ""); }, "24x24"));
}
