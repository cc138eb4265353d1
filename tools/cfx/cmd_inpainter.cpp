// `cfx train inpainter`: FIDO's generative in-filler. After training it reports the held-out
// reconstruction error of the missing pixels next to the simple in-fillers' on the same masks,
// so a user sees whether it is worth its cost.
#include <filesystem>
#include <iostream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/seed.h"
#include "cfx/methods/saliency/infill.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/inpainter.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;

namespace cfx::cli {

namespace {

struct TrainInpainterFlags {
  TrainDataFlags data;
  std::string out;
  InpainterOptions arch;
  InpainterTrainOptions train;
  int64_t eval_n = 2000;
};

int train_inpainter_main(const TrainInpainterFlags& f) {
  CFX_CHECK(!f.out.empty(), "--out is required");
  CFX_CHECK(f.eval_n >= 1, "invalid --eval-n: ", f.eval_n);
  auto parent = fs::path(f.out).parent_path();
  ensure_writable_dir(parent.empty() ? "." : parent.string());
  auto [train, test] = f.data.load();
  test = test.head(f.eval_n);
  InpainterOptions arch = f.arch;
  arch.channels = train.images.size(1);
  auto net = std::make_shared<Inpainter>(arch);
  nlohmann::json report = net->train(train, test, f.train);

  // The same held-out masks as train()'s own score, for every in-filler.
  seed_all(f.train.seed + 1);
  auto keep = random_infill_masks(test.size(), test.images.size(2), test.images.size(3));
  nlohmann::json errors = nlohmann::json::object();
  net->to(torch::kCPU);
  auto painter = make_inpainter_infiller(net);
  errors["inpainter"] = infill_error(*painter, test.images, keep);
  for (const auto& name : {"mean", "blur", "local"})
    errors[name] = infill_error(*make_infiller(name, InfillOptions{}), test.images, keep);

  nlohmann::json meta = f.data.to_json();
  meta.update({{"input_shape", {arch.channels, train.images.size(2), train.images.size(3)}},
               {"classes", train.class_names},
               {"seed", f.train.seed},
               {"train_options", f.train.to_json()},
               {"test_l1_missing", report["test_l1_missing"]},
               {"test_l1_missing_by_infiller", errors},
               {"eval_items", test.size()},
               {"command", invocation()}});
  net->save(f.out, meta);
  std::cout << "held-out L1 on missing pixels (" << test.size() << " images):";
  for (const auto& [k, v] : errors.items()) std::cout << " " << k << " " << v.get<double>();
  std::cout << "\nwrote " << f.out << " and " << sidecar_path(f.out) << "\n";
  return 0;
}

}  // namespace

void add_train_inpainter_command(CLI::App& app) {
  auto* train = app.get_subcommand("train");
  auto* sub = train->add_subcommand(
      "inpainter", "train FIDO's generative in-filler (masked image + mask -> painting)");
  auto f = std::make_shared<TrainInpainterFlags>();
  f->data.add(sub);
  sub->add_option("--width", f->arch.width, "channels of the first conv");
  sub->add_option("--epochs", f->train.epochs, "passes over the training images");
  sub->add_option("--batch-size", f->train.batch_size, "items per step");
  sub->add_option("--lr", f->train.lr, "Adam learning rate");
  sub->add_option("--seed", f->train.seed, "seed for initialisation, shuffling and masks");
  sub->add_option("--device", f->train.device, "cpu or cuda");
  sub->add_option("--eval-n", f->eval_n, "held-out test images scored after training");
  sub->add_option("--out,-o", f->out, "weights file to write (sidecar NAME.json beside it)")
      ->required();
  on_selected(sub, [f] { return train_inpainter_main(*f); });
}

}  // namespace cfx::cli
