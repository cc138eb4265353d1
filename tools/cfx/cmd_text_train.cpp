// `cfx train text-classifier` and `cfx train text-cvae`: the models of AIP's text side, trained
// on the seeded review grammar (include/cfx/text/corpus.h).
#include <filesystem>
#include <iostream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/seed.h"
#include "cfx/models/checkpoint.h"
#include "cfx/text/text_classifier.h"
#include "cfx/text/text_cvae.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;

namespace cfx::cli {

namespace {

struct TextTrainFlags {
  TextCorpusOptions corpus;
  TextTrainOptions loop;
  std::string out;
  void add(CLI::App* sub) {
    sub->add_option("--train-size", corpus.train_size, "training sentences from the grammar");
    sub->add_option("--test-size", corpus.test_size, "held-out sentences for the reported numbers");
    sub->add_option("--corpus-seed", corpus.seed, "seed of the grammar's sentences");
    sub->add_option("--epochs", loop.epochs, "passes over the training sentences");
    sub->add_option("--batch-size", loop.batch_size, "sentences per step");
    sub->add_option("--lr", loop.lr, "Adam learning rate");
    sub->add_option("--seed", loop.seed, "seed for initialisation, shuffling and noise");
    sub->add_option("--device", loop.device, "cpu or cuda");
    sub->add_option("--out,-o", out, "weights file to write (sidecar NAME.json beside it)")
        ->required();
  }
  // Checks --out's folder before minutes of training, and makes the two splits.
  std::pair<TextDataset, TextDataset> prepare() const {
    auto parent = fs::path(out).parent_path();
    ensure_writable_dir(parent.empty() ? "." : parent.string());
    loop.validate();
    return {make_text_corpus(corpus, "train"), make_text_corpus(corpus, "test")};
  }
  nlohmann::json meta(const nlohmann::json& train_options, const nlohmann::json& report) const {
    return {{"dataset", "text-reviews"},
            {"dataset_options", corpus.to_json()},
            {"attribute_names", text_attribute_names()},
            {"class_rule", "positive iff positive XOR negated"},
            {"seed", loop.seed},
            {"train_options", train_options},
            {"metrics", report},
            {"command", invocation()}};
  }
};

struct ClassifierFlags {
  TextTrainFlags common;
  TokenNetOptions arch;
};

int train_classifier_main(const ClassifierFlags& f) {
  auto [train, test] = f.common.prepare();
  TokenNetOptions arch = f.arch;
  arch.max_len = f.common.corpus.max_len;
  seed_all(f.common.loop.seed);
  TextClassifier F(Vocab::corpus(), arch, text_class_names());
  auto report = F.train(train, test, f.common.loop);
  F.save(f.common.out, f.common.meta(f.common.loop.to_json(), report));
  std::cout << "test accuracy " << report["test_accuracy"].get<double>() << " on " << test.size()
            << " sentences\nwrote " << f.common.out << " and " << sidecar_path(f.common.out)
            << "\n";
  return 0;
}

struct CvaeFlags {
  TextTrainFlags common;
  TextCvaeOptions arch;
  TextCvaeTrainOptions train;
};

int train_cvae_main(const CvaeFlags& f) {
  auto [train, test] = f.common.prepare();
  TextCvaeOptions arch = f.arch;
  arch.max_len = f.common.corpus.max_len;
  TextCvaeTrainOptions o = f.train;
  o.loop = f.common.loop;
  o.validate();
  seed_all(o.loop.seed);
  TextCvae G(Vocab::corpus(), text_attribute_names(), arch);
  auto report = G.train(train, test, o);
  G.save(f.common.out, f.common.meta(o.to_json(), report));
  std::cout << "reconstruction token accuracy " << report["recon_token_accuracy"].get<double>()
            << ", attribute control " << report["attribute_control"].get<double>()
            << " (all attributes " << report["attribute_control_all"].get<double>() << ")\n"
            << "flip control " << report["flip_control"].dump() << "\nwrote " << f.common.out
            << " and " << sidecar_path(f.common.out) << "\n";
  return 0;
}

}  // namespace

void add_train_text_commands(CLI::App& app) {
  auto* train = app.get_subcommand("train");
  auto* c = train->add_subcommand("text-classifier",
                                  "train the token-level text classifier on the review grammar");
  auto cf = std::make_shared<ClassifierFlags>();
  cf->common.loop.epochs = 6;
  cf->common.add(c);
  c->add_option("--embed", cf->arch.embed, "embedding width");
  c->add_option("--hidden", cf->arch.hidden, "conv channels and MLP width");
  on_selected(c, [cf] { return train_classifier_main(*cf); });

  auto* v = train->add_subcommand(
      "text-cvae", "train the attribute-conditional sentence VAE (E, G, D) for text AIP");
  auto vf = std::make_shared<CvaeFlags>();
  vf->common.loop.epochs = 30;
  vf->common.add(v);
  v->add_option("--latent", vf->arch.latent, "latent size of z");
  v->add_option("--hidden", vf->arch.hidden, "width of encoder and decoder layers");
  v->add_option("--attribute-epochs", vf->train.attribute_epochs,
                "epochs of the attribute classifier D before it is frozen");
  v->add_option("--beta", vf->train.beta, "weight of the KL term");
  v->add_option("--gamma", vf->train.gamma, "weight of the attribute-consistency term");
  v->add_option("--temperature", vf->train.temperature,
                "softmax temperature of the soft sentences D reads");
  on_selected(v, [vf] { return train_cvae_main(*vf); });
}

}  // namespace cfx::cli
