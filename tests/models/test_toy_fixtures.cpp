// ctest's toy_fixtures (FIXTURES_SETUP toy_models) trains the toy classifiers once per test
// run and writes them where the other tests load them (helpers.h, --cfx-fixtures=DIR); a
// loaded toy must be the trained one, and leave LibTorch's generator as training does.
#include <gtest/gtest.h>

#include "cfx/core/seed.h"
#include "data/temp_dir.h"
#include "helpers.h"

using namespace cfx;

TEST(ToyFixtures, Write) {
  const auto& dir = cfx::testing::fixture_dir();
  if (dir.empty()) GTEST_SKIP() << "pass --cfx-fixtures=DIR to write the fixtures there";
  cfx::testing::write_toy_fixtures(dir);
}

TEST(ToyFixtures, ALoadedToyIsTheTrainedOneAndLeavesTheSameRandomState) {
  cfx::test::TempDir dir("toy_fixtures");
  cfx::testing::write_toy_fixtures(dir.str());
  auto x = cfx::testing::toy_dataset(8, 5).images;
  for (const auto& [arch, head] : cfx::testing::kToyFixtures) {
    SCOPED_TRACE(arch + "/" + head);
    auto trained = cfx::testing::make_toy_classifier(arch, head);
    auto next_trained = torch::rand({4});
    seed_all(99);  // what ran before must not matter
    auto loaded = cfx::testing::make_toy_classifier(arch, head, dir.str());
    auto next_loaded = torch::rand({4});
    EXPECT_TRUE(torch::equal(trained->logits(x), loaded->logits(x)));
    EXPECT_TRUE(torch::equal(next_trained, next_loaded));
    EXPECT_EQ(trained->info().source, loaded->info().source);
    EXPECT_EQ(trained->info().mean, loaded->info().mean);
    for (size_t i = 0; i < trained->net().parameters().size(); ++i)
      EXPECT_EQ(trained->net().parameters()[i].requires_grad(),
                loaded->net().parameters()[i].requires_grad());
  }
}
