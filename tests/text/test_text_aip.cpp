// AIP on sentences: with only the attributes free, a classifier that reads one attribute gets
// its counterfactual by a change of that attribute, not of the ones it ignores.
#include <gtest/gtest.h>

#include <cmath>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/text/aip_text.h"

using namespace cfx;

namespace {

std::shared_ptr<TextCvae> shipped_cvae() {
  return TextCvae::load(std::string(CFX_SOURCE_DIR) + "/models/text-cvae.pt");
}

// A classifier whose class is one corpus attribute (column `k`), trained in a few seconds.
std::shared_ptr<TextClassifier> reads_attribute(int64_t k) {
  set_quiet(true);
  TextCorpusOptions o;
  o.train_size = 3000;
  auto train = make_text_corpus(o, "train"), test = make_text_corpus(o, "test");
  for (auto* d : {&train, &test}) d->labels = d->attributes.select(1, k).to(torch::kLong);
  TextTrainOptions loop;
  loop.epochs = 4;
  auto F = std::make_shared<TextClassifier>(Vocab::corpus(), TokenNetOptions{},
                                            std::vector<std::string>{"off", "on"});
  EXPECT_GT(F->train(train, test, loop)["test_accuracy"].get<double>(), 0.97);
  return F;
}

}  // namespace

TEST(TextAip, OptimisingOnlyAttributesChangesTheOneTheClassifierReads) {
  auto G = shipped_cvae();
  const int64_t k = 0;  // "positive", the adjective's polarity
  auto F = reads_attribute(k);
  TextCorpusOptions o;
  o.test_size = 40;
  auto test = make_text_corpus(o, "test");
  // Both attribute steps: the paper's proximal gradient and the greedy whole-edit probes.
  for (const std::string step : {"gradient", "greedy"}) {
    SCOPED_TRACE(step);
    TextAipOptions opt;
    opt.search.optimise_z = false;
    opt.search.steps = 200;
    opt.search.attribute_step = step;
    auto r = explain_text_aip(*F, *G, test.texts, std::vector<int64_t>(test.size(), -1), opt);
    int valid = 0, right = 0, ignored = 0;
    double moved_read = 0, moved_ignored = 0;
    for (const auto& t : r.items) {
      EXPECT_NE(t.target, t.class_before);  // auto: the other class
      if (!t.valid) continue;
      ++valid;
      right += t.grammar_after[k] != t.grammar_before[k];
      ignored +=
          t.grammar_after[2] != t.grammar_before[2] || t.grammar_after[3] != t.grammar_before[3];
      moved_read += std::abs(t.attributes_after[k] - t.attributes_before[k]);
      for (int j : {2, 3})
        moved_ignored += std::abs(t.attributes_after[j] - t.attributes_before[j]);
    }
    const auto counts = cfx::str(valid, " valid, ", right, " changed the attribute F reads, ",
                                 ignored, " changed topic or tense");
    EXPECT_GE(valid, 32) << counts;
    EXPECT_GE(right, valid * 9 / 10) << counts;
    // Most keep topic and tense (a third do not: G's words follow a only approximately).
    EXPECT_LT(2 * ignored, valid) << counts;
    // The explanation in attribute words: the attribute F reads moved the most.
    EXPECT_GT(moved_read, moved_ignored) << moved_read << " vs " << moved_ignored;
  }
}

TEST(TextAip, BatchesAgreeWithSingleItemsAndRepeat) {
  auto G = shipped_cvae();
  TextCorpusOptions o;
  o.train_size = 3000;
  auto F = std::make_shared<TextClassifier>(Vocab::corpus(), TokenNetOptions{}, text_class_names());
  set_quiet(true);
  TextTrainOptions loop;
  loop.epochs = 2;
  F->train(make_text_corpus(o, "train"), make_text_corpus(o, "test"), loop);
  std::vector<std::string> texts = {"the movie was not good", "this soup is awful !",
                                    "i think the plot is very boring"};
  for (const std::string step : {"gradient", "greedy"}) {
    SCOPED_TRACE(step);
    TextAipOptions opt;
    opt.search.steps = 100;
    opt.search.attribute_step = step;
    auto batch = explain_text_aip(*F, *G, texts, {-1, 1, -1}, opt);
    auto again = explain_text_aip(*F, *G, texts, {-1, 1, -1}, opt);
    opt.batch_size = 1;
    auto single = explain_text_aip(*F, *G, texts, {-1, 1, -1}, opt);
    for (size_t i = 0; i < texts.size(); ++i) {
      EXPECT_EQ(batch.items[i].counterfactual, again.items[i].counterfactual);
      EXPECT_EQ(batch.items[i].counterfactual, single.items[i].counterfactual);
      // Bitwise, not only the same words: the models give each item the same numbers in any batch.
      EXPECT_EQ(batch.items[i].attributes_after, single.items[i].attributes_after);
      EXPECT_EQ(batch.items[i].steps, single.items[i].steps);
      // Straight-through: an item that stopped early stopped on a valid hard sentence.
      if (batch.items[i].steps < opt.search.steps) EXPECT_TRUE(batch.items[i].valid);
    }
    EXPECT_EQ(batch.items[1].target, 1);
    EXPECT_THROW(explain_text_aip(*F, *G, texts, {-1, 2, -1}, opt), cfx::Error);
    EXPECT_THROW(explain_text_aip(*F, *G, {""}, {-1}, opt), cfx::Error);
  }
}

TEST(TextAip, EditDistanceCountsWordsNotPositions) {
  auto v = Vocab::corpus();
  auto e =
      encode_texts({"the movie was good", "the movie was not good", "a movie was good"}, v, 12);
  EXPECT_EQ(token_edit_distance(e.ids[0], e.ids[1]), 1);  // one insertion, not four shifts
  EXPECT_EQ(token_edit_distance(e.ids[0], e.ids[2]), 1);
  EXPECT_EQ(token_edit_distance(e.ids[0], e.ids[0]), 0);
}
