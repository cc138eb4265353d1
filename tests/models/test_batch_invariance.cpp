// An item's outputs do not depend on the batch it is in (core/batch_invariance.h): bitwise at
// a fixed thread count, for every kind of model entry point a method calls. Without the
// doubling of CPU batches of one these fail: LibTorch convolves a batch of one on another
// backend than a batch of five.
#include <gtest/gtest.h>

#include "cfx/core/batch_invariance.h"
#include "cfx/core/threads.h"
#include "cfx/models/attributes.h"
#include "cfx/models/autoencoder.h"
#include "cfx/models/classifier.h"
#include "cfx/models/cvae.h"
#include "cfx/models/generator.h"
#include "cfx/models/inpainter.h"
#include "cfx/text/corpus.h"
#include "cfx/text/text_classifier.h"
#include "cfx/text/text_cvae.h"
#include "cli/cli_runner.h"

using namespace cfx;
using cfx::testing::shipped_model;

namespace {

// Each row of f(x) [5, ...] equals f of that row alone, bitwise.
template <class Fn>
void expect_rows_match_items(const std::string& what, const torch::Tensor& x, Fn f) {
  auto all = f(x);
  for (int64_t i = 0; i < x.size(0); ++i) {
    auto one = f(x.slice(0, i, i + 1));
    ASSERT_EQ(one.size(0), 1) << what;
    EXPECT_TRUE(torch::equal(one[0], all[i])) << what << ", item " << i << ": differs by "
                                              << (one[0] - all[i]).abs().max().item().toFloat();
  }
}

// Logits and the gradient of each item's log p_0 with respect to its own image.
torch::Tensor logits_and_gradient(Classifier& F, const torch::Tensor& x) {
  auto v = x.clone().requires_grad_(true);
  auto l = F.logits(v);
  torch::log_softmax(l, 1).select(1, 0).sum().backward();
  return torch::cat({l.detach(), v.grad().flatten(1)}, 1);
}

struct Threads {
  int before = cfx::threads();
  ~Threads() { cfx::set_threads(before); }
};

}  // namespace

TEST(BatchInvariance, DoublingOnlyTouchesCpuBatchesOfOne) {
  auto one = torch::rand({1, 3}), two = torch::rand({2, 3});
  EXPECT_EQ(as_two_rows(one).size(0), 2);
  EXPECT_TRUE(torch::equal(as_two_rows(one)[1], one[0]));
  EXPECT_TRUE(as_two_rows(two).is_same(two));
  EXPECT_EQ(as_two_rows(torch::tensor(1.0)).dim(), 0);
  // Undoing keeps row 0 of a doubled output, and leaves a wrong-sized output for the caller.
  EXPECT_EQ(from_two_rows(torch::rand({2, 4}), one).size(0), 1);
  EXPECT_EQ(from_two_rows(torch::rand({3, 4}), one).size(0), 3);
  EXPECT_EQ(from_two_rows(torch::rand({2, 4}), two).size(0), 2);
  // The gradient reaches x once, through row 0.
  auto v = one.clone().requires_grad_(true);
  from_two_rows(as_two_rows(v) * 3, v).sum().backward();
  EXPECT_TRUE(torch::equal(v.grad(), torch::full({1, 3}, 3.0)));
}

TEST(BatchInvariance, ClassifiersGiveEachItemTheSameLogitsGradientsAndFeatures) {
  Threads restore;
  for (int t : {1, 2}) {
    cfx::set_threads(t);
    for (std::string name :
         {"fashion-mnist-cnn.pt", "fashion-mnist-oracle-resnet.pt", "fashion-mnist-cnn-loss.pt",
          "shapes-cnn.pt", "shapes-attributes.pt"}) {
      std::shared_ptr<Classifier> F;
      if (name == "shapes-attributes.pt") {
        auto A = load_attribute_classifier(shipped_model(name));
        F = std::shared_ptr<Classifier>(A, &A->net());
      } else {
        F = load_classifier(shipped_model(name));
      }
      auto s = F->info().input_shape;
      auto x =
          torch::rand({5, s[0], s[1], s[2]}, torch::Generator(at::detail::createCPUGenerator(3)));
      expect_rows_match_items(name, x, [&](const auto& b) { return logits_and_gradient(*F, b); });
      auto layers = F->feature_layers();
      ASSERT_FALSE(layers.empty());
      expect_rows_match_items(name + " capture", x, [&](const auto& b) {
        torch::NoGradGuard ng;
        auto c = F->capture(b, {layers.front(), layers.back()}, true);
        std::vector<torch::Tensor> parts = {c.logits, c.features.at(layers.front()).flatten(1),
                                            c.features.at(layers.back()).flatten(1)};
        for (auto& [n, v] : c.bn_inputs) parts.push_back(v.flatten(1));
        if (c.loss_estimate.defined()) parts.push_back(c.loss_estimate.view({-1, 1}));
        return torch::cat(parts, 1);
      });
    }
  }
}

TEST(BatchInvariance, GeneratorsGiveEachItemTheSameOutput) {
  torch::NoGradGuard ng;
  auto gen = torch::Generator(at::detail::createCPUGenerator(4));
  auto x = torch::rand({5, 1, 28, 28}, gen);
  auto G = Cvae::load(shipped_model("fashion-mnist-cvae.pt"));
  auto a = torch::rand({5, static_cast<int64_t>(G->attributes().size())}, gen);
  auto z = torch::randn({5, G->latent_dim()}, gen);
  expect_rows_match_items("cvae decode", torch::cat({z, a}, 1), [&](const auto& b) {
    return G->decode(b.slice(1, 0, z.size(1)), b.slice(1, z.size(1))).flatten(1);
  });
  expect_rows_match_items("cvae encode", torch::cat({x.flatten(1), a}, 1), [&](const auto& b) {
    return G->encode(b.slice(1, 0, 784).view({-1, 1, 28, 28}), b.slice(1, 784));
  });
  auto V = load_generator(shipped_model("fashion-mnist-vae.pt"));
  expect_rows_match_items("vae decode", torch::randn({5, V->latent_dim()}, gen),
                          [&](const auto& b) { return V->decode(b).flatten(1); });
  expect_rows_match_items("vae encode", x, [&](const auto& b) { return V->encode(b); });
  auto P = Inpainter::load(shipped_model("fashion-mnist-inpainter.pt"));
  auto keep = (torch::rand({5, 1, 28, 28}, gen) > 0.5).to(torch::kFloat);
  expect_rows_match_items("inpainter", torch::cat({x, keep}, 1), [&](const auto& b) {
    return P->paint(b.slice(1, 0, 1), b.slice(1, 1)).flatten(1);
  });
  auto A = ClassAutoencoders::load(shipped_model("fashion-mnist-ae.pt"));
  expect_rows_match_items("class autoencoders", x, [&](const auto& b) {
    return A.reconstruct(b, torch::zeros({b.size(0)}, torch::kLong)).flatten(1);
  });
}

TEST(BatchInvariance, TextModelsGiveEachSentenceTheSameOutput) {
  torch::NoGradGuard ng;
  auto F = TextClassifier::load(shipped_model("text-classifier.pt"));
  auto G = TextCvae::load(shipped_model("text-cvae.pt"));
  auto enc = encode_texts({"the movie was not good", "this soup is awful !", "a very good plot",
                           "i think the coffee is boring", "the film is great"},
                          F->vocab(), F->max_len());
  expect_rows_match_items("text classifier", enc.ids, [&](const auto& b) { return F->logits(b); });
  expect_rows_match_items("text cvae encode", enc.ids, [&](const auto& b) { return G->encode(b); });
  expect_rows_match_items("text cvae attributes", enc.ids,
                          [&](const auto& b) { return G->attributes(b); });
  auto gen = torch::Generator(at::detail::createCPUGenerator(5));
  auto k = static_cast<int64_t>(G->attribute_names().size());
  auto za = torch::cat({torch::randn({5, G->latent_dim()}, gen), torch::rand({5, k}, gen)}, 1);
  expect_rows_match_items("text cvae decode", za, [&](const auto& b) {
    return G->decode_logits(b.slice(1, 0, G->latent_dim()), b.slice(1, G->latent_dim())).flatten(1);
  });
}
