// `cfx train vae | attributes | shifter`: the three models behind latent-space counterfactuals
// and global causal scores (METHODS.md §3). Each prints its held-out quality and records it,
// with the command and seed, in the checkpoint's sidecar.
#include <filesystem>
#include <iostream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/seed.h"
#include "cfx/models/attributes.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/shifter.h"
#include "cfx/models/train.h"
#include "cfx/models/vae.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;

namespace cfx::cli {

namespace {

nlohmann::json json_null() { return nlohmann::json(nullptr); }

void check_out(const std::string& out) {
  CFX_CHECK(!out.empty(), "--out is required");
  auto parent = fs::path(out).parent_path();
  ensure_writable_dir(parent.empty() ? "." : parent.string());
}

struct TrainVaeFlags {
  TrainDataFlags data;
  std::string split = "train";  // which split the generator learns from
  std::string out;
  VaeOptions arch;
  VaeTrainOptions train;
};

int train_vae_main(const TrainVaeFlags& f) {
  check_out(f.out);
  CFX_CHECK(f.split == "train" || f.split == "test", "invalid --split '", f.split,
            "' (use train or test)");
  auto [train, test] = f.data.load();
  // A generator need not see the classifier's data: --split test learns from the test split
  // (and is scored on the training split).
  if (f.split == "test") std::swap(train, test);
  test = test.head(2000);
  VaeOptions arch = f.arch;
  arch.channels = train.images.size(1);
  arch.height = train.images.size(2);
  arch.width = train.images.size(3);
  auto vae = std::make_shared<Vae>(arch);
  auto report = vae->train(train, test, f.train);
  nlohmann::json meta = f.data.to_json();
  meta.update({{"split", f.split},
               {"input_shape", {arch.channels, arch.height, arch.width}},
               {"seed", f.train.seed},
               {"train_options", f.train.to_json()},
               {"training", report},
               {"command", invocation()}});
  vae->to(torch::kCPU);
  vae->save(f.out, meta);
  std::cout << "held-out reconstruction MSE " << report["test_recon_mse"].get<double>()
            << " per pixel, KL " << report["test_kl"].get<double>() << " nats per image\n";
  std::cout << "wrote " << f.out << " and " << sidecar_path(f.out) << "\n";
  return 0;
}

struct TrainAttributesFlags {
  TrainDataFlags data;
  std::string out;
  ZooOptions zoo;
  AttributeTrainOptions train;
};

int train_attributes_main(const TrainAttributesFlags& f) {
  check_out(f.out);
  auto [train, test] = f.data.load();
  auto targets = attribute_targets(train);
  ZooOptions zo = f.zoo;
  zo.channels = train.images.size(1);
  zo.height = train.images.size(2);
  zo.width = train.images.size(3);
  zo.num_classes = static_cast<int64_t>(targets.names.size());
  zo.head = "linear";
  seed_all(f.train.seed);
  auto net = make_zoo_net(zo);
  auto [mean, sd] = channel_stats(train.images);
  auto report = train_attribute_classifier(*net, train, test, targets, mean, sd, f.train);
  net->to(torch::kCPU);
  save_module(*net, f.out);
  nlohmann::json meta = f.data.to_json();
  meta.update({{"kind", "attributes"},
               {"arch", zo.arch},
               {"arch_options", zoo_options_to_json(zo)},
               {"input_shape", {zo.channels, zo.height, zo.width}},
               {"classes", targets.names},
               {"thresholds", targets.thresholds},
               {"groups", targets.groups},
               {"mean", mean},
               {"std", sd},
               {"seed", f.train.seed},
               {"train_options", f.train.to_json()},
               {"training", report},
               {"command", invocation()}});
  write_sidecar(f.out, meta);
  std::cout << "held-out accuracy per attribute:";
  for (const auto& name : targets.names)
    std::cout << " " << name << " " << report["test_accuracy"][name].get<double>();
  std::cout << "\nwrote " << f.out << " and " << sidecar_path(f.out) << "\n";
  return 0;
}

struct TrainShifterFlags {
  std::string generator, attributes, out;
  TrainDataFlags data;  // --data "": train on latents drawn from N(0, I)
  ShifterOptions arch;
  ShifterTrainOptions train;
};

int train_shifter_main(const TrainShifterFlags& f) {
  check_out(f.out);
  auto G = load_generator(f.generator);
  auto A = load_attribute_classifier(f.attributes);
  ShifterOptions arch = f.arch;
  arch.latent = G->latent_dim();
  arch.attributes = A->size();
  Shifter S(arch);
  ShifterTrainOptions train = f.train;
  if (!f.data.data.empty()) {
    // Latents of real images (train split to learn, test split to score): a VAE's prior
    // samples are often off the data, and edits learnt there need not carry over.
    auto [tr, te] = f.data.load();
    auto encode = [&](const Dataset& d, int64_t n) {
      return invert_generator(*G, d.images.slice(0, 0, std::min(n, d.size())), {}).cpu();
    };
    train.latents = encode(tr, 10000);
    train.eval_latents = encode(te, train.eval_n);
  }
  auto report = S.train(*G, *A, train);
  // Paths relative to the shifter's folder, so a models folder can move as a whole.
  auto dir = fs::absolute(fs::path(f.out)).parent_path();
  auto rel = [&](const std::string& p) { return fs::proximate(fs::absolute(p), dir).string(); };
  nlohmann::json meta = {{"generator", rel(f.generator)},
                         {"latent_data", f.data.data.empty() ? json_null() : f.data.to_json()},
                         {"attributes", rel(f.attributes)},
                         {"attribute_names", A->names()},
                         {"seed", f.train.seed},
                         {"train_options", train.to_json()},  // records "latents": "data"
                         {"training", report},
                         {"command", invocation()}};
  S.to(torch::kCPU);
  S.save(f.out, meta);
  const auto& rates = report["flip_rates"];
  std::cout << "flip rates on " << rates["samples"].get<int64_t>()
            << (f.data.data.empty() ? " fresh latents" : " encoded test images")
            << " (on / off / others kept):\n";
  // "--" where no sample had the attribute in the state to flip from.
  auto cell = [](const nlohmann::json& v) {
    char buf[16];
    if (v.is_null()) return std::string("  -- ");
    std::snprintf(buf, sizeof buf, "%.3f", v.get<double>());
    return std::string(buf);
  };
  for (const auto& name : A->names()) {
    const auto& r = rates["attributes"][name];
    std::printf("  %-18s %s / %s / %s\n", name.c_str(), cell(r["on_rate"]).c_str(),
                cell(r["off_rate"]).c_str(), cell(r["keep_rate"]).c_str());
  }
  std::printf("  %-18s %s / %s / %s\n", "mean", cell(rates["mean_on_rate"]).c_str(),
              cell(rates["mean_off_rate"]).c_str(), cell(rates["mean_keep_rate"]).c_str());
  std::cout << "wrote " << f.out << " and " << sidecar_path(f.out) << "\n";
  return 0;
}

}  // namespace

void add_train_latent_commands(CLI::App& app) {
  auto* train = app.get_subcommand("train");
  {
    auto* sub = train->add_subcommand("vae",
                                      "train a convolutional VAE (the generator of "
                                      "latent-space counterfactuals)");
    auto f = std::make_shared<TrainVaeFlags>();
    f->data.add(sub);
    sub->add_option("--split", f->split,
                    "split the generator learns from: train, or test (data the classifier "
                    "never saw)");
    sub->add_option("--latent", f->arch.latent, "latent size");
    sub->add_option("--width", f->arch.width_mult, "channels of the first conv");
    sub->add_option("--epochs", f->train.epochs, "passes over the training images");
    sub->add_option("--batch-size", f->train.batch_size, "items per step");
    sub->add_option("--lr", f->train.lr, "Adam learning rate");
    sub->add_option("--beta", f->train.beta, "weight of the KL term (1: the ELBO)");
    sub->add_option("--seed", f->train.seed, "seed for initialisation, shuffling and noise");
    sub->add_option("--device", f->train.device, "cpu or cuda");
    sub->add_option("--out,-o", f->out, "weights file to write (sidecar NAME.json beside it)")
        ->required();
    on_selected(sub, [f] { return train_vae_main(*f); });
  }
  {
    auto* sub = train->add_subcommand(
        "attributes",
        "train a multi-label attribute classifier (shapes: its 11 attributes; mnist: stroke "
        "morphometry, fashion-mnist: silhouette morphometry, split at the medians)");
    auto f = std::make_shared<TrainAttributesFlags>();
    f->data.add(sub);
    sub->add_option("--arch", f->zoo.arch, "architecture: cnn, resnet or mlp");
    sub->add_option("--width", f->zoo.width_mult, "channels of the first stage");
    sub->add_option("--epochs", f->train.epochs, "passes over the training set");
    sub->add_option("--batch-size", f->train.batch_size, "items per step");
    sub->add_option("--lr", f->train.lr, "peak learning rate (AdamW, cosine decay)");
    sub->add_option("--seed", f->train.seed, "seed for initialisation and shuffling");
    sub->add_option("--device", f->train.device, "cpu or cuda");
    sub->add_option("--out,-o", f->out, "weights file to write (sidecar NAME.json beside it)")
        ->required();
    on_selected(sub, [f] { return train_attributes_main(*f); });
  }
  {
    auto* sub = train->add_subcommand(
        "shifter",
        "train the shift predictor S(w, t) -> dw against a frozen generator and "
        "attribute classifier");
    auto f = std::make_shared<TrainShifterFlags>();
    f->data.data.clear();
    sub->add_option("--generator", f->generator, "generator (cfx VAE or TorchScript)")->required();
    sub->add_option("--attributes", f->attributes, "attribute classifier (cfx or TorchScript)")
        ->required();
    sub->add_option("--data", f->data.data,
                    "train on the generator's latents of these images (train split; scored "
                    "on the test split); default: latents drawn from N(0, I)");
    sub->add_option("--data-seed", f->data.data_seed, "seed of generated datasets (shapes)");
    sub->add_option("--cycle-weight", f->train.cycle_weight,
                    "weight of ||E(G(w + dw)) - (w + dw)||^2 (generators with an encoder)");
    sub->add_option("--hidden", f->arch.hidden, "width of the hidden layers");
    sub->add_option("--steps", f->train.steps, "optimisation steps (fresh latents each)");
    sub->add_option("--batch-size", f->train.batch_size, "latents per step");
    sub->add_option("--lr", f->train.lr, "Adam learning rate");
    sub->add_option("--beta", f->train.beta, "weight of ||dw||");
    sub->add_option("--keep-weight", f->train.keep_weight,
                    "weight of keeping the attributes not requested (0: don't care)");
    sub->add_option("--second", f->train.second,
                    "probability of requesting a second attribute in a sample");
    sub->add_option("--seed", f->train.seed, "seed for initialisation, latents and requests");
    sub->add_option("--device", f->train.device, "cpu or cuda");
    sub->add_option("--eval-n", f->train.eval_n, "fresh latents for the reported flip rates");
    sub->add_option("--out,-o", f->out, "weights file to write (sidecar NAME.json beside it)")
        ->required();
    on_selected(sub, [f] { return train_shifter_main(*f); });
  }
}

}  // namespace cfx::cli
