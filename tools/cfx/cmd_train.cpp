#include <iostream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/core/seed.h"
#include "cfx/data/dataset.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/train.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;

namespace cfx::cli {

namespace {

struct TrainClassifierFlags {
  TrainDataFlags data;
  std::string out;
  ZooOptions zoo;
  TrainOptions train;
  std::string init;  // checkpoint to start from (same architecture), or empty
};

int train_classifier_main(const TrainClassifierFlags& f, const std::string& cmdline) {
  CFX_CHECK(!f.out.empty(), "--out is required");
  auto parent = fs::path(f.out).parent_path();
  ensure_writable_dir(parent.empty() ? "." : parent.string());
  auto [train, test] = f.data.load();

  ZooOptions zo = f.zoo;
  zo.channels = train.images.size(1);
  zo.height = train.images.size(2);
  zo.width = train.images.size(3);
  zo.num_classes = train.num_classes();
  seed_all(f.train.seed);  // the initial weights are part of what the seed fixes
  auto net = make_zoo_net(zo);
  auto [mean, sd] = channel_stats(train.images);
  if (!f.init.empty()) {
    // Keep the normalisation the starting weights were trained with.
    auto init_meta = init_from_checkpoint(*net, zo, f.init);
    mean = init_meta.value("mean", mean);
    sd = init_meta.value("std", sd);
  }
  if (!quiet())
    std::cerr << "cfx: training " << zo.arch
              << (zo.head == "linear" ? "" : " + " + zo.head + " head") << " on " << f.data.data
              << " (" << train.size() << " train, " << test.size() << " test items, "
              << zo.num_classes << " classes" << (f.init.empty() ? "" : ", starting from " + f.init)
              << ")\n";
  TrainReport report = train_classifier(*net, train, test, mean, sd, f.train);

  save_module(*net, f.out);
  nlohmann::json meta = {{"kind", "classifier"},
                         {"arch", zo.arch},
                         {"arch_options", zoo_options_to_json(zo)},
                         {"dataset", f.data.data},
                         {"dataset_options", f.data.to_json().at("dataset_options")},
                         {"input_shape", {zo.channels, zo.height, zo.width}},
                         {"classes", train.class_names},
                         {"mean", mean},
                         {"std", sd},
                         {"seed", f.train.seed},
                         {"head", zo.head},
                         {"init", f.init},
                         {"train_options", f.train.to_json()},
                         {"training", report.to_json()},
                         {"command", cmdline}};
  write_sidecar(f.out, meta);
  std::cout << "test accuracy " << report.test_accuracy << " after " << f.train.epochs
            << " epochs (" << static_cast<int>(report.seconds) << " s)\n";
  if (!report.head.empty())
    std::cout << zo.head << " head on the test split: " << report.head.dump() << "\n";
  std::cout << "wrote " << f.out << " and " << sidecar_path(f.out) << "\n";
  return 0;
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto* train = app.add_subcommand("train", "train the models cfx needs");
  train->require_subcommand(1);
  auto* sub = train->add_subcommand("classifier", "train a zoo classifier (cnn, resnet, mlp)");
  auto f = std::make_shared<TrainClassifierFlags>();
  f->data.add(sub);
  sub->add_option("--arch", f->zoo.arch, "architecture: cnn, resnet or mlp");
  sub->add_option("--width", f->zoo.width_mult, "channels of the first stage");
  sub->add_option("--dropout", f->zoo.dropout, "dropout before the last layer");
  sub->add_option("--head", f->zoo.head,
                  "auxiliary head beside the class logits: linear (none), duq or loss");
  sub->add_option("--init", f->init,
                  "start from this classifier checkpoint (same arch; e.g. to add a head)");
  sub->add_option("--duq-weight", f->train.duq_weight, "weight of the DUQ loss");
  sub->add_option("--duq-gp-weight", f->train.duq_gp_weight, "DUQ gradient penalty weight");
  sub->add_option("--duq-gp-every", f->train.duq_gp_every,
                  "apply the DUQ gradient penalty every k-th batch (it is slow on CPU)");
  sub->add_option("--duq-gamma", f->train.duq_gamma, "EMA decay of the DUQ centroids");
  sub->add_option("--loss-weight", f->train.loss_weight, "weight of the loss estimator's loss");
  sub->add_option("--loss-margin", f->train.loss_margin, "loss estimator: ranking margin");
  sub->add_option("--loss-mse-weight", f->train.loss_mse_weight,
                  "loss estimator: weight of the regression term");
  sub->add_option("--epochs", f->train.epochs, "passes over the training set");
  sub->add_option("--batch-size", f->train.batch_size, "items per step");
  sub->add_option("--lr", f->train.lr, "peak learning rate (AdamW, warm-up then cosine)");
  sub->add_option("--weight-decay", f->train.weight_decay, "decoupled weight decay");
  sub->add_option("--shift", f->train.shift, "augmentation: largest random shift in pixels");
  sub->add_flag("--flip,!--no-flip", f->train.flip, "augmentation: random horizontal flips");
  sub->add_flag("--augment,!--no-augment", f->train.augment, "random shifts (and flips)");
  sub->add_option("--seed", f->train.seed, "seed for initialisation, shuffling, augmentation");
  sub->add_option("--device", f->train.device, "cpu or cuda");
  sub->add_option("--out,-o", f->out, "weights file to write (sidecar NAME.json beside it)")
      ->required();
  on_selected(sub, [f] { return train_classifier_main(*f, invocation()); });
}

}  // namespace cfx::cli
