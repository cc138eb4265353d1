// Trainers of AIP's text side, on the seeded review grammar (include/cfx/text/corpus.h): the
// token-level classifier and the attribute-conditional sentence VAE.
#include <sstream>

#include "cfx/core/seed.h"
#include "cfx/models/checkpoint.h"
#include "cfx/text/text_classifier.h"
#include "cfx/text/text_cvae.h"
#include "trainers.h"

using nlohmann::json;

namespace cfx::train_detail {

namespace {

// The corpus and the training loop, which both text trainers take.
std::vector<TrainOption> text_options(int64_t epochs, std::vector<TrainOption> own) {
  const TextCorpusOptions c;
  const TextTrainOptions t;
  std::vector<TrainOption> all = {
      {"train_size", c.train_size, "training sentences from the grammar"},
      {"test_size", c.test_size, "held-out sentences for the reported numbers"},
      {"corpus_seed", c.seed, "seed of the grammar's sentences"},
      {"epochs", epochs, "passes over the training sentences"},
      {"batch_size", t.batch_size, "sentences per step"},
      {"lr", t.lr, "Adam learning rate"},
      {"seed", t.seed, "seed for initialisation, shuffling and noise"},
      {"device", t.device, "cpu or cuda"}};
  all.insert(all.end(), own.begin(), own.end());
  return all;
}

TextCorpusOptions corpus_of(const json& o) {
  TextCorpusOptions c;
  c.train_size = o["train_size"];
  c.test_size = o["test_size"];
  c.seed = o["corpus_seed"];
  return c;
}

TextTrainOptions loop_of(const json& o) {
  TextTrainOptions t;
  t.epochs = o["epochs"];
  t.batch_size = o["batch_size"];
  t.lr = o["lr"];
  t.seed = o["seed"];
  t.device = o["device"].get<std::string>();
  t.validate();
  return t;
}

json text_sidecar(const TextCorpusOptions& corpus, uint64_t seed, const json& train_options,
                  const json& report, const std::string& command) {
  return {{"dataset", "text-reviews"},
          {"dataset_options", corpus.to_json()},
          {"attribute_names", text_attribute_names()},
          {"class_rule", "positive iff positive XOR negated"},
          {"seed", seed},
          {"train_options", train_options},
          {"metrics", report},
          {"command", command}};
}

TrainOutcome train_text_classifier_kind(const json& o, const std::string& out,
                                        const std::string& command) {
  const auto corpus = corpus_of(o);
  const auto loop = loop_of(o);
  auto train = make_text_corpus(corpus, "train"), test = make_text_corpus(corpus, "test");
  TokenNetOptions arch;
  arch.embed = o["embed"];
  arch.hidden = o["hidden"];
  arch.max_len = corpus.max_len;
  seed_all(loop.seed);
  TextClassifier F(Vocab::corpus(), arch, text_class_names());
  auto report = F.train(train, test, loop);
  TrainOutcome r;
  r.sidecar = text_sidecar(corpus, loop.seed, loop.to_json(), report, command);
  F.save(out, r.sidecar);
  std::ostringstream s;
  s << "test accuracy " << report["test_accuracy"].get<double>() << " on " << test.size()
    << " sentences\n";
  r.summary = s.str();
  return r;
}

TrainOutcome train_text_cvae_kind(const json& o, const std::string& out,
                                  const std::string& command) {
  const auto corpus = corpus_of(o);
  TextCvaeTrainOptions t;
  t.loop = loop_of(o);
  t.attribute_epochs = o["attribute_epochs"];
  t.beta = o["beta"];
  t.gamma = o["gamma"];
  t.temperature = o["temperature"];
  t.validate();
  auto train = make_text_corpus(corpus, "train"), test = make_text_corpus(corpus, "test");
  TextCvaeOptions arch;
  arch.latent = o["latent"];
  arch.hidden = o["hidden"];
  arch.max_len = corpus.max_len;
  seed_all(t.loop.seed);
  TextCvae G(Vocab::corpus(), text_attribute_names(), arch);
  auto report = G.train(train, test, t);
  TrainOutcome r;
  r.sidecar = text_sidecar(corpus, t.loop.seed, t.to_json(), report, command);
  G.save(out, r.sidecar);
  std::ostringstream s;
  s << "reconstruction token accuracy " << report["recon_token_accuracy"].get<double>()
    << ", attribute control " << report["attribute_control"].get<double>() << " (all attributes "
    << report["attribute_control_all"].get<double>() << ")\n"
    << "flip control " << report["flip_control"].dump() << "\n";
  r.summary = s.str();
  return r;
}

}  // namespace

std::vector<Trainer> text_trainers() {
  const TokenNetOptions tn;
  const TextCvaeOptions ca;
  const TextCvaeTrainOptions ct;
  return {
      {"text-classifier", "train the token-level text classifier on the review grammar",
       text_options(6, {{"embed", tn.embed, "embedding width"},
                        {"hidden", tn.hidden, "conv channels and MLP width"}}),
       train_text_classifier_kind},
      {"text-cvae", "train the attribute-conditional sentence VAE (E, G, D) for text AIP",
       text_options(30, {{"latent", ca.latent, "latent size of z"},
                         {"hidden", ca.hidden, "width of encoder and decoder layers"},
                         {"attribute_epochs", ct.attribute_epochs,
                          "epochs of D on the real sentences before it is frozen"},
                         {"beta", ct.beta, "weight of the KL term"},
                         {"gamma", ct.gamma, "weight of the attribute-consistency term"},
                         {"temperature", ct.temperature,
                          "softmax temperature of the soft sentences D reads"}}),
       train_text_cvae_kind},
  };
}

}  // namespace cfx::train_detail
