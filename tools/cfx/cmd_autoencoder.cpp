// `cfx train autoencoder`: the class-conditional autoencoders behind IM1/IM2.
#include <filesystem>
#include <iostream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/dataset.h"
#include "cfx/models/autoencoder.h"
#include "cfx/models/checkpoint.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;

namespace cfx::cli {

namespace {

struct TrainAutoencoderFlags {
  TrainDataFlags data;
  std::string out;
  AutoencoderOptions arch;
  AutoencoderTrainOptions train;
};

int train_autoencoder_main(const TrainAutoencoderFlags& f) {
  CFX_CHECK(!f.out.empty(), "--out is required");
  auto parent = fs::path(f.out).parent_path();
  ensure_writable_dir(parent.empty() ? "." : parent.string());
  auto [train, test] = f.data.load();
  AutoencoderOptions arch = f.arch;
  arch.channels = train.images.size(1);
  ClassAutoencoders aes(train.num_classes(), arch);
  auto report = aes.train(train, test, f.train);
  nlohmann::json meta = f.data.to_json();
  meta.update({{"input_shape", {arch.channels, train.images.size(2), train.images.size(3)}},
               {"classes", train.class_names},
               {"seed", f.train.seed},
               {"train_options", f.train.to_json()},
               {"test_mse", report},
               {"command", invocation()}});
  aes.save(f.out, meta);
  std::cout << "test reconstruction mse (all classes) " << report.value("all", 0.0) << "\n"
            << "wrote " << f.out << " and " << sidecar_path(f.out) << "\n";
  return 0;
}

}  // namespace

void add_train_autoencoder_command(CLI::App& app) {
  auto* train = app.get_subcommand("train");
  auto* sub = train->add_subcommand(
      "autoencoder",
      "train class-conditional autoencoders (one per class + one for all) for IM1/IM2");
  auto f = std::make_shared<TrainAutoencoderFlags>();
  f->data.add(sub);
  sub->add_option("--width", f->arch.width, "channels of the first conv");
  sub->add_option("--latent", f->arch.latent, "bottleneck channels (at 1/4 resolution)");
  sub->add_option(
      "--activation", f->arch.activation,
      "leaky_relu, or relu (what checkpoints before this option used; collapses more easily)");
  sub->add_option("--epochs", f->train.epochs, "passes over each class's images");
  sub->add_option("--batch-size", f->train.batch_size, "items per step");
  sub->add_option("--lr", f->train.lr, "Adam learning rate");
  sub->add_option("--loss", f->train.loss,
                  "bce, or mse (what autoencoders before this option used; can get stuck)");
  sub->add_option("--seed", f->train.seed, "seed for initialisation and shuffling");
  sub->add_option("--device", f->train.device, "cpu or cuda");
  sub->add_option("--out,-o", f->out, "weights file to write (sidecar NAME.json beside it)")
      ->required();
  on_selected(sub, [f] { return train_autoencoder_main(*f); });
}

}  // namespace cfx::cli
