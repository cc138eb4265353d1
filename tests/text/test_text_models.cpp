// The text classifier learns the corpus rule, reads soft sentences as it reads hard ones, and
// round-trips through its checkpoint; the shipped text cvae reconstructs and obeys attributes.
#include <gtest/gtest.h>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/text/text_classifier.h"
#include "cfx/text/text_cvae.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using namespace cfx;
using cfx::testing::shipped_model;

namespace {

TextCorpusOptions small_corpus() {
  TextCorpusOptions o;
  o.train_size = 3000;
  o.test_size = 500;
  return o;
}

}  // namespace

TEST(TextClassifier, LearnsTheXorRuleAndReadsSoftSentencesLikeHardOnes) {
  set_quiet(true);
  auto o = small_corpus();
  auto train = make_text_corpus(o, "train"), test = make_text_corpus(o, "test");
  TextTrainOptions loop;
  loop.epochs = 6;
  TextClassifier F(Vocab::corpus(), {}, text_class_names());
  auto report = F.train(train, test, loop);
  EXPECT_GT(report["test_accuracy"].get<double>(), 0.95);
  torch::NoGradGuard ng;
  auto onehot = torch::one_hot(test.ids, F.vocab().size()).to(torch::kFloat);
  EXPECT_TRUE(torch::allclose(F.logits_soft(onehot), F.logits(test.ids), 1e-4, 1e-4));

  auto dir = cfx::testing::temp_dir("text_classifier_ckpt");
  F.save(dir + "/f.pt", {});
  auto G = TextClassifier::load(dir + "/f.pt");
  EXPECT_TRUE(torch::equal(G->logits(test.ids), F.logits(test.ids)));
  EXPECT_EQ(G->class_names(), text_class_names());
  EXPECT_THROW(TextCvae::load(dir + "/f.pt"), cfx::Error);  // wrong kind, said in one line
}

TEST(TextCvae, ShippedModelReconstructsAndFollowsRequestedAttributes) {
  auto G = TextCvae::load(shipped_model("text-cvae.pt"));
  auto test = make_text_corpus(small_corpus(), "test");
  auto m = G->measure(test);
  EXPECT_GT(m["recon_token_accuracy"].get<double>(), 0.9) << m.dump();
  EXPECT_GT(m["attribute_accuracy"].get<double>(), 0.97) << m.dump();
  EXPECT_GT(m["attribute_control"].get<double>(), 0.85) << m.dump();
  // Flipping only the rule's attributes, the grammar sees that flip and nothing else moved.
  EXPECT_GT(m["flip_control_oracle"]["positive"].get<double>(), 0.6) << m.dump();
  EXPECT_GT(m["flip_control_oracle"]["negated"].get<double>(), 0.6) << m.dump();
}

TEST(TextCvae, ShortTrainingBeatsChanceAndKeepsTheVocabulary) {
  set_quiet(true);
  auto o = small_corpus();
  o.train_size = 1500;
  auto train = make_text_corpus(o, "train"), test = make_text_corpus(o, "test");
  TextCvaeTrainOptions t;
  t.loop.epochs = 3;
  TextCvae G(Vocab::corpus(), text_attribute_names(), {});
  auto before = G.measure(test)["recon_token_accuracy"].get<double>();
  auto m = G.train(train, test, t);
  EXPECT_GT(m["recon_token_accuracy"].get<double>(), before + 0.3) << m.dump();
  EXPECT_GT(m["attribute_accuracy"].get<double>(), 0.9) << m.dump();
  auto dir = cfx::testing::temp_dir("text_cvae_ckpt");
  G.save(dir + "/g.pt", {});
  auto L = TextCvae::load(dir + "/g.pt");
  EXPECT_TRUE(L->vocab() == Vocab::corpus());
  EXPECT_TRUE(torch::equal(L->encode(test.ids), G.encode(test.ids)));
}
