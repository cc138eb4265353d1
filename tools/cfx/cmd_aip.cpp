// `cfx train cvae`: the attribute-conditional VAE behind AIP counterfactuals (METHODS.md §4),
// trained against a frozen attribute classifier; prints and records its reconstruction error
// and attribute control (how often the attribute classifier sees what G(z, a') was asked for).
#include <filesystem>
#include <iostream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/cvae.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;

namespace cfx::cli {

namespace {

struct TrainCvaeFlags {
  TrainDataFlags data;
  std::string attributes;  // D ("": <dataset>-attributes.pt in models/)
  std::string out;
  VaeOptions arch;
  CvaeTrainOptions train;
};

int train_cvae_main(TrainCvaeFlags f) {
  CFX_CHECK(!f.out.empty(), "--out is required");
  auto parent = fs::path(f.out).parent_path();
  ensure_writable_dir(parent.empty() ? "." : parent.string());
  if (f.attributes.empty()) f.attributes = "models/" + f.data.data + "-attributes.pt";
  auto D = load_attribute_classifier(f.attributes);
  auto [train, test] = f.data.load();
  test = test.head(2000);
  auto shape = train.images.sizes().slice(1).vec();
  CFX_CHECK(shape == D->net().input_shape(), "dataset images are ", train.images.sizes(),
            ", but the attribute classifier ", f.attributes, " reads [N, ",
            D->net().input_shape()[0], ", ", D->net().input_shape()[1], ", ",
            D->net().input_shape()[2], "]");
  VaeOptions arch = f.arch;
  arch.channels = train.images.size(1);
  arch.height = train.images.size(2);
  arch.width = train.images.size(3);
  Cvae cvae(arch, D->names());
  auto report = cvae.train(train, test, *D, f.train);
  // D's path relative to the cvae's folder, so a models folder can move as a whole.
  auto dir = fs::absolute(fs::path(f.out)).parent_path();
  nlohmann::json meta = f.data.to_json();
  meta.update({{"attributes", fs::proximate(fs::absolute(f.attributes), dir).string()},
               {"input_shape", {arch.channels, arch.height, arch.width}},
               {"seed", f.train.seed},
               {"train_options", f.train.to_json()},
               {"training", report},
               {"command", invocation()}});
  cvae.to(torch::kCPU);
  cvae.save(f.out, meta);
  const auto& ac = report["attribute_control"];
  std::cout << "held-out reconstruction MSE " << report["test_recon_mse"].get<double>()
            << " per pixel; attribute control " << ac["all"].get<double>() << " (all), "
            << ac["changed"].dump() << " (attributes the request changes)\n";
  std::cout << "wrote " << f.out << " and " << sidecar_path(f.out) << "\n";
  return 0;
}

}  // namespace

void add_train_cvae_command(CLI::App& app) {
  auto* train = app.get_subcommand("train");
  auto* sub = train->add_subcommand(
      "cvae",
      "train an attribute-conditional VAE (encoder E(x, a), decoder G(z, a)) against a frozen "
      "attribute classifier: the generator of AIP counterfactuals");
  auto f = std::make_shared<TrainCvaeFlags>();
  f->data.add(sub);
  sub->add_option("--attributes", f->attributes,
                  "attribute classifier D, frozen (default: models/<data>-attributes.pt)");
  sub->add_option("--latent", f->arch.latent, "latent size");
  sub->add_option("--width", f->arch.width_mult, "channels of the first conv");
  sub->add_option("--epochs", f->train.epochs, "passes over the training images");
  sub->add_option("--batch-size", f->train.batch_size, "items per step");
  sub->add_option("--lr", f->train.lr, "Adam learning rate");
  sub->add_option("--beta", f->train.beta, "weight of the KL term (1: the ELBO)");
  sub->add_option("--attribute-weight", f->train.attribute_weight,
                  "weight of the attribute-consistency term BCE(D(G(z, a')), a')");
  sub->add_option("--seed", f->train.seed, "seed for initialisation, shuffling and noise");
  sub->add_option("--device", f->train.device, "cpu or cuda");
  sub->add_option("--out,-o", f->out, "weights file to write (sidecar NAME.json beside it)")
      ->required();
  on_selected(sub, [f] { return train_cvae_main(*f); });
}

}  // namespace cfx::cli
