// The review grammar: seeded, its attributes readable back from the words, its class rule.
#include <gtest/gtest.h>

#include "cfx/core/error.h"
#include "cfx/text/corpus.h"

using cfx::TextCorpusOptions;
using cfx::Vocab;

TEST(TextCorpus, SameSeedSameSentencesOtherSeedOrSplitOthers) {
  TextCorpusOptions o;
  o.train_size = 300;
  o.test_size = 300;
  auto a = cfx::make_text_corpus(o, "train"), b = cfx::make_text_corpus(o, "train");
  EXPECT_EQ(a.texts, b.texts);
  EXPECT_TRUE(torch::equal(a.ids, b.ids));
  EXPECT_NE(a.texts, cfx::make_text_corpus(o, "test").texts);
  o.seed = 1;
  EXPECT_NE(a.texts, cfx::make_text_corpus(o, "train").texts);
}

TEST(TextCorpus, GrammarReadsBackTheAttributesItWasGivenAndTheRuleIsXor) {
  TextCorpusOptions o;
  o.train_size = 2000;
  auto d = cfx::make_text_corpus(o, "train");
  auto vocab = Vocab::corpus();
  EXPECT_TRUE(torch::equal(cfx::annotate(d.ids, vocab), d.attributes));
  for (int64_t i = 0; i < 50; ++i) {
    bool positive = d.attributes[i][0].item<float>() > 0.5;
    bool negated = d.attributes[i][1].item<float>() > 0.5;
    EXPECT_EQ(negated, d.texts[i].find(" not ") != std::string::npos) << d.texts[i];
    EXPECT_EQ(d.labels[i].item<int64_t>(), positive != negated) << d.texts[i];
  }
  // Attributes are balanced and independent enough to tell apart what a classifier uses.
  auto mean = d.attributes.mean(0);
  EXPECT_LT((mean - 0.5).abs().max().item<float>(), 0.05);
  EXPECT_EQ(d.ids.size(1), o.max_len);
  EXPECT_EQ(d.ids.max().item<int64_t>() < vocab.size(), true);
}

TEST(TextCorpus, TokenizerLowersSplitsPunctuationAndMarksUnknownWords) {
  EXPECT_EQ(cfx::tokenize("The Movie was GOOD!"),
            (std::vector<std::string>{"the", "movie", "was", "good", "!"}));
  auto vocab = Vocab::corpus();
  auto e = cfx::encode_texts({"the sushi was good", "the film is bad ."}, vocab, 12);
  EXPECT_EQ(e.unknown[0], std::vector<std::string>{"sushi"});
  EXPECT_TRUE(e.unknown[1].empty());
  EXPECT_EQ(e.ids[0][1].item<int64_t>(), Vocab::kUnk);
  EXPECT_EQ(e.ids[0][4].item<int64_t>(), Vocab::kPad);
  EXPECT_EQ(cfx::decode_ids(e.ids[1], vocab), "the film is bad .");
  // Not a sentence of the grammar (no noun): no attributes rather than a guess.
  auto g = cfx::annotate(e.ids, vocab);
  EXPECT_EQ(g[0][0].item<float>(), -1);
  EXPECT_EQ(g[1][0].item<float>(), 0);
  EXPECT_EQ(g[1][2].item<float>(), 1);
}

TEST(TextCorpus, EmptyOrTooLongTextIsAUserError) {
  auto vocab = Vocab::corpus();
  EXPECT_THROW(cfx::encode_texts({"  "}, vocab, 12), cfx::Error);
  EXPECT_THROW(cfx::encode_texts({"a b c d e f g h i j k l m"}, vocab, 12), cfx::Error);
  TextCorpusOptions o;
  o.max_len = 5;
  EXPECT_THROW(o.validate(), cfx::Error);
}
