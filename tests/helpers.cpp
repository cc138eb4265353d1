#include "helpers.h"

#include <filesystem>
#include <map>

#include "cfx/core/log.h"
#include "cfx/core/seed.h"
#include "cfx/models/train.h"

namespace cfx::testing {

Dataset toy_dataset(int64_t n, uint64_t seed, bool three_classes) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Dataset d;
  d.name = "toy";
  d.split = "test";
  d.images = torch::rand({n, 1, 12, 12}, gen) * 0.5;
  auto bump = torch::randint(0, three_classes ? 3 : 2, {n}, gen, torch::kLong);
  auto acc = bump.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) {
    if (acc[i] == 0) d.images[i].slice(2, 0, 6) += 0.4;
    if (acc[i] == 1) d.images[i].slice(2, 6, 12) += 0.4;
    if (acc[i] == 2) d.images[i].slice(1, 0, 6) += 0.4;
  }
  d.images = d.images.clamp(0, 1);
  d.labels = bump;
  d.class_names = three_classes ? std::vector<std::string>{"left", "right", "top"}
                                : std::vector<std::string>{"left", "right"};
  for (int64_t i = 0; i < n; ++i) d.sources.push_back("toy:" + std::to_string(i));
  return d;
}

std::shared_ptr<NativeClassifier> toy_classifier(const std::string& arch,
                                                 const std::string& head) {
  // Trained once per process, architecture and head; tests must not modify it.
  static std::map<std::string, std::shared_ptr<NativeClassifier>> cache;
  auto& slot = cache[arch + "/" + head];
  if (slot) return slot;
  set_quiet(true);
  auto train = toy_dataset(768, 1, true), test = toy_dataset(256, 2, true);
  ZooOptions zo;
  zo.arch = arch;
  zo.height = zo.width = 12;
  zo.num_classes = 3;
  zo.width_mult = 8;
  zo.head = head;
  if (head != "linear") seed_all(3);  // the head tests were tuned with this initialisation
  auto net = make_zoo_net(zo);
  TrainOptions to;
  to.epochs = 6;
  to.batch_size = 32;
  to.lr = 5e-3;
  to.seed = 3;
  auto [mean, sd] = channel_stats(train.images);
  train_classifier(*net, train, test, mean, sd, to);
  ClassifierInfo info;
  info.arch = arch;
  info.source = head == "linear" ? "toy" : "toy-" + head;
  info.input_shape = {1, 12, 12};
  info.class_names = train.class_names;
  info.mean = mean;
  info.std = sd;
  slot = std::make_shared<NativeClassifier>(net, zo, info);
  return slot;
}

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("cfx_test_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace cfx::testing
