// Trainers of image models that need no other model: the zoo classifier, the class
// autoencoders (IM1/IM2) and FIDO's in-painter.
#include <iostream>
#include <optional>
#include <sstream>

#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/core/seed.h"
#include "cfx/core/surface.h"
#include "cfx/methods/saliency/infill.h"
#include "cfx/models/autoencoder.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/inpainter.h"
#include "cfx/models/train.h"
#include "trainers.h"

using nlohmann::json;

namespace cfx::train_detail {

namespace {

TrainOutcome train_classifier_kind(const json& o, const std::string& out,
                                   const std::string& command) {
  auto [train, test] = load_train_data(o);
  ZooOptions zo;
  zo.arch = o["arch"].get<std::string>();
  zo.width_mult = o["width"];
  zo.dropout = o["dropout"];
  zo.head = o["head"].get<std::string>();
  zo.channels = train.images.size(1);
  zo.height = train.images.size(2);
  zo.width = train.images.size(3);
  zo.num_classes = train.num_classes();
  TrainOptions t;
  t.duq_weight = o["duq_weight"];
  t.duq_gp_weight = o["duq_gp_weight"];
  t.duq_gp_every = o["duq_gp_every"];
  t.duq_gamma = o["duq_gamma"];
  t.loss_weight = o["loss_weight"];
  t.loss_margin = o["loss_margin"];
  t.loss_mse_weight = o["loss_mse_weight"];
  t.loss_perturbed = o["loss_perturbed"];
  t.head_only = o["head_only"];
  t.epochs = o["epochs"];
  t.batch_size = o["batch_size"];
  t.lr = o["lr"];
  t.weight_decay = o["weight_decay"];
  t.shift = o["shift"];
  t.flip = o["flip"];
  t.blur = o["blur"];
  t.augment = o["augment"];
  t.seed = o["seed"];
  t.device = o["device"].get<std::string>();
  const std::string init = o["init"];
  seed_all(t.seed);  // the initial weights are part of what the seed fixes
  auto net = make_zoo_net(zo);
  auto [mean, sd] = channel_stats(train.images);
  if (!init.empty()) {
    // Keep the normalisation the starting weights were trained with.
    auto init_meta = init_from_checkpoint(*net, zo, init);
    mean = init_meta.value("mean", mean);
    sd = init_meta.value("std", sd);
  }
  if (!quiet())
    std::cerr << "cfx: training " << zo.arch
              << (zo.head == "linear" ? "" : " + " + zo.head + " head") << " on "
              << o["data"].get<std::string>() << " (" << train.size() << " train, " << test.size()
              << " test items, " << zo.num_classes << " classes"
              << (init.empty() ? "" : ", starting from " + init) << ")\n";
  // Out-of-distribution images for the DUQ head's uncertainty report: another dataset's test
  // split, read at the classifier's input shape.
  const std::string ood_name = o["ood_data"];
  std::optional<Dataset> ood;
  if (!ood_name.empty()) {
    CFX_CHECK(zo.head == "duq", option("ood-data"), " ", ood_name,
              " scores DUQ's certainty; it needs ", option("head"), " duq (this is ", zo.head, ")");
    ood = load_test_split(o, ood_name);
    CFX_CHECK(ood->images.sizes().slice(1) == test.images.sizes().slice(1), option("ood-data"), " ",
              ood_name, " has images of shape ", ood->images.sizes().slice(1),
              " but the classifier reads ", test.images.sizes().slice(1));
  }
  TrainReport report = train_classifier(*net, train, test, mean, sd, t, ood ? &*ood : nullptr);
  if (ood) report.head["ood_data"] = ood_name;

  save_module(*net, out);
  json data = data_json(o);
  TrainOutcome r;
  r.sidecar = {{"kind", "classifier"},
               {"arch", zo.arch},
               {"arch_options", zoo_options_to_json(zo)},
               {"dataset", data["dataset"]},
               {"dataset_options", data["dataset_options"]},
               {"input_shape", {zo.channels, zo.height, zo.width}},
               {"classes", train.class_names},
               {"mean", mean},
               {"std", sd},
               {"seed", t.seed},
               {"head", zo.head},
               {"init", init},
               {"train_options", t.to_json()},
               {"training", report.to_json()},
               {"command", command}};
  write_sidecar(out, r.sidecar);
  std::ostringstream s;
  s << "test accuracy " << report.test_accuracy << " after " << t.epochs << " epochs ("
    << static_cast<int>(report.seconds) << " s)\n";
  if (!report.head.empty())
    s << zo.head << " head on the test split: " << report.head.dump() << "\n";
  r.summary = s.str();
  return r;
}

TrainOutcome train_autoencoder_kind(const json& o, const std::string& out,
                                    const std::string& command) {
  auto [train, test] = load_train_data(o);
  AutoencoderOptions arch;
  arch.width = o["width"];
  arch.latent = o["latent"];
  arch.activation = o["activation"].get<std::string>();
  arch.channels = train.images.size(1);
  AutoencoderTrainOptions t;
  t.epochs = o["epochs"];
  t.batch_size = o["batch_size"];
  t.lr = o["lr"];
  t.loss = o["loss"].get<std::string>();
  t.seed = o["seed"];
  t.device = o["device"].get<std::string>();
  ClassAutoencoders aes(train.num_classes(), arch);
  auto report = aes.train(train, test, t);
  TrainOutcome r;
  r.sidecar = data_json(o);
  r.sidecar.update({{"input_shape", {arch.channels, train.images.size(2), train.images.size(3)}},
                    {"classes", train.class_names},
                    {"seed", t.seed},
                    {"train_options", t.to_json()},
                    {"test_mse", report},
                    {"command", command}});
  aes.save(out, r.sidecar);
  std::ostringstream s;
  s << "test reconstruction mse (all classes) " << report.value("all", 0.0) << "\n";
  r.summary = s.str();
  return r;
}

TrainOutcome train_inpainter_kind(const json& o, const std::string& out,
                                  const std::string& command) {
  const int64_t eval_n = o["eval_n"];
  CFX_CHECK(eval_n >= 1, "invalid eval_n: ", eval_n, " (held-out images to score, >= 1)");
  auto [train, test] = load_train_data(o);
  test = test.head(eval_n);
  InpainterOptions arch;
  arch.width = o["width"];
  arch.latent = o["latent"];
  arch.channels = train.images.size(1);
  InpainterTrainOptions t;
  t.epochs = o["epochs"];
  t.batch_size = o["batch_size"];
  t.lr = o["lr"];
  t.seed = o["seed"];
  t.device = o["device"].get<std::string>();
  t.kl = o["kl"];
  auto net = std::make_shared<Inpainter>(arch);
  json report = net->train(train, test, t);

  // The same held-out masks as train()'s own score, for every in-filler.
  seed_all(t.seed + 1);
  auto keep = random_infill_masks(test.size(), test.images.size(2), test.images.size(3));
  json errors = json::object();
  net->to(torch::kCPU);
  auto painter = make_inpainter_infiller(net);
  errors["inpainter"] = infill_error(*painter, test.images, keep);
  for (const auto& name : {"mean", "blur", "local"})
    errors[name] = infill_error(*make_infiller(name, InfillOptions{}), test.images, keep);
  if (arch.latent > 0) {
    // One sample per image (z ~ N(0, I), seeded): what FIDO's draws look like, next to the
    // prior mean's painting scored as "inpainter" above.
    torch::NoGradGuard ng;
    seed_all(t.seed + 2);
    auto z = torch::randn({test.size(), arch.latent});
    double err = 0, count = 0;
    for (int64_t i = 0; i < test.size(); i += 256) {
      const int64_t j = std::min<int64_t>(test.size(), i + 256);
      auto xb = test.images.slice(0, i, j), kb = keep.slice(0, i, j);
      auto miss = (1 - kb).expand_as(xb);
      err += ((net->paint(xb, kb, z.slice(0, i, j)) - xb).abs() * miss).sum().item<double>();
      count += miss.sum().item<double>();
    }
    errors["inpainter_sample"] = count > 0 ? err / count : 0.0;
  }

  TrainOutcome r;
  r.sidecar = data_json(o);
  r.sidecar.update({{"input_shape", {arch.channels, train.images.size(2), train.images.size(3)}},
                    {"classes", train.class_names},
                    {"seed", t.seed},
                    {"train_options", t.to_json()},
                    {"test_l1_missing", report["test_l1_missing"]},
                    {"test_l1_missing_by_infiller", errors},
                    {"eval_items", test.size()},
                    {"command", command}});
  net->save(out, r.sidecar);
  std::ostringstream s;
  s << "held-out L1 on missing pixels (" << test.size() << " images):";
  for (const auto& [k, v] : errors.items()) s << " " << k << " " << v.get<double>();
  s << "\n";
  r.summary = s.str();
  return r;
}

}  // namespace

std::vector<Trainer> image_trainers() {
  const TrainOptions t;
  const ZooOptions zo;
  const AutoencoderOptions ao;
  const AutoencoderTrainOptions at;
  const InpainterOptions io;
  const InpainterTrainOptions it;
  return {
      {"classifier", "train a zoo classifier (cnn, resnet, mlp)",
       with_data({
           {"arch", zo.arch, "architecture: cnn, resnet or mlp"},
           {"width", zo.width_mult, "channels of the first stage"},
           {"dropout", zo.dropout, "dropout before the last layer"},
           {"head", zo.head, "auxiliary head beside the class logits: linear (none), duq or loss"},
           {"init", "", "start from this classifier checkpoint (same arch; e.g. to add a head)"},
           {"duq_weight", t.duq_weight, "weight of the DUQ loss"},
           {"duq_gp_weight", t.duq_gp_weight, "DUQ gradient penalty weight"},
           {"duq_gp_every", t.duq_gp_every,
            "apply the DUQ gradient penalty every k-th batch (it is slow on CPU)"},
           {"duq_gamma", t.duq_gamma, "EMA decay of the DUQ centroids"},
           {"loss_weight", t.loss_weight, "weight of the loss estimator's loss"},
           {"loss_margin", t.loss_margin, "loss estimator: ranking margin"},
           {"loss_mse_weight", t.loss_mse_weight, "loss estimator: weight of the regression term"},
           {"loss_perturbed", t.loss_perturbed,
            "loss estimator: perturbed copies (noise, blends, gradient steps) per item, 0-4"},
           {"head_only", t.head_only,
            "train only the auxiliary head; the classifier stays as --init gave it"},
           {"ood_data", "",
            "duq: a dataset whose test images are out of distribution; the report gives how "
            "well DUQ's certainty (and the softmax's) separates them from the test split (AUROC)"},
           {"epochs", t.epochs, "passes over the training set"},
           {"batch_size", t.batch_size, "items per step"},
           {"lr", t.lr, "peak learning rate (AdamW, warm-up then cosine)"},
           {"weight_decay", t.weight_decay, "decoupled weight decay"},
           {"shift", t.shift, "augmentation: largest random shift in pixels"},
           {"flip", t.flip, "augmentation: random horizontal flips"},
           {"blur", t.blur,
            "augmentation: Gaussian blur of a random sigma in [0, blur] pixels per item (0: none)"},
           {"augment", t.augment, "random shifts (and flips, blur)"},
           {"seed", t.seed, "seed for initialisation, shuffling, augmentation"},
           {"device", t.device, "cpu or cuda"},
       }),
       train_classifier_kind},
      {"autoencoder",
       "train class-conditional autoencoders (one per class + one for all) for IM1/IM2",
       with_data({
           {"width", ao.width, "channels of the first conv"},
           {"latent", ao.latent, "bottleneck channels (at 1/4 resolution)"},
           {"activation", ao.activation,
            "leaky_relu, or relu (what checkpoints before this option used; collapses more "
            "easily)"},
           {"epochs", at.epochs, "passes over each class's images"},
           {"batch_size", at.batch_size, "items per step"},
           {"lr", at.lr, "Adam learning rate"},
           {"loss", at.loss,
            "bce, or mse (what autoencoders before this option used; can get stuck)"},
           {"seed", at.seed, "seed for initialisation and shuffling"},
           {"device", at.device, "cpu or cuda"},
       }),
       train_autoencoder_kind},
      {"inpainter", "train FIDO's generative in-filler (masked image + mask -> painting)",
       with_data({
           {"width", io.width, "channels of the first conv"},
           {"latent", io.latent,
            "size of z for a conditional-VAE in-filler whose paintings are samples (0: one "
            "deterministic painting)"},
           {"kl", it.kl, "latent > 0: weight of the KL term (nats per pixel)"},
           {"epochs", it.epochs, "passes over the training images"},
           {"batch_size", it.batch_size, "items per step"},
           {"lr", it.lr, "Adam learning rate"},
           {"seed", it.seed, "seed for initialisation, shuffling and masks"},
           {"device", it.device, "cpu or cuda"},
           {"eval_n", int64_t{2000}, "held-out test images scored after training"},
       }),
       train_inpainter_kind},
  };
}

}  // namespace cfx::train_detail
