#include "helpers.h"

#include <filesystem>
#include <map>

#include "cfx/core/fs.h"
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

namespace {

// The fixture files of one toy classifier: its weights and the state of LibTorch's CPU
// generator after training, so a test that draws random numbers after toy_classifier() draws
// the same ones whether the model was trained in its process or loaded.
std::string fixture_stem(const std::string& dir, const std::string& arch, const std::string& head) {
  return dir + "/toy-" + arch + "-" + head;
}

std::shared_ptr<NativeClassifier> make_toy(const std::string& arch, const std::string& head,
                                           const std::string& load_from) {
  // LibTorch's generator in the state of a fresh process, where each test made its toy
  // before fixtures existed: a linear head's initial weights come from it.
  if (load_from.empty() && head == "linear")
    at::Generator(at::detail::getDefaultCPUGenerator()).set_current_seed(c10::default_rng_seed_val);
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
  auto [mean, sd] = channel_stats(train.images);
  if (load_from.empty()) {
    TrainOptions to;
    to.epochs = 6;
    to.batch_size = 32;
    to.lr = 5e-3;
    to.seed = 3;
    train_classifier(*net, train, test, mean, sd, to);
  } else {
    load_module(*net, load_from + ".pt");
    for (auto& p : net->parameters()) p.set_requires_grad(true);  // as after training
    torch::Tensor state;
    torch::load(state, load_from + ".rng");
    at::Generator(at::detail::getDefaultCPUGenerator()).set_state(state);
  }
  ClassifierInfo info;
  info.arch = arch;
  info.source = head == "linear" ? "toy" : "toy-" + head;
  info.input_shape = {1, 12, 12};
  info.class_names = train.class_names;
  info.mean = mean;
  info.std = sd;
  return std::make_shared<NativeClassifier>(net, zo, info);
}

std::string g_fixture_dir;  // set once by tests/main.cpp before any test runs

}  // namespace

void set_fixture_dir(const std::string& dir) { g_fixture_dir = dir; }

const std::string& fixture_dir() { return g_fixture_dir; }

std::shared_ptr<NativeClassifier> make_toy_classifier(const std::string& arch,
                                                      const std::string& head,
                                                      const std::string& fixture_dir) {
  return make_toy(arch, head, fixture_dir.empty() ? "" : fixture_stem(fixture_dir, arch, head));
}

std::shared_ptr<NativeClassifier> toy_classifier(const std::string& arch, const std::string& head) {
  // Made once per process, architecture and head; tests must not modify it.
  static std::map<std::string, std::shared_ptr<NativeClassifier>> cache;
  auto& slot = cache[arch + "/" + head];
  if (slot) return slot;
  const std::string& dir = fixture_dir();
  std::string stem = dir.empty() ? "" : fixture_stem(dir, arch, head);
  if (!stem.empty() && !(is_file(stem + ".pt") && is_file(stem + ".rng"))) stem.clear();
  slot = make_toy(arch, head, stem);
  return slot;
}

void write_toy_fixtures(const std::string& dir) {
  std::filesystem::create_directories(dir);
  for (const auto& [arch, head] : kToyFixtures) {
    auto F = make_toy(arch, head, "");
    const auto stem = fixture_stem(dir, arch, head);
    auto state = at::detail::getDefaultCPUGenerator().get_state();
    // Written under temporary names and renamed, so a reader never sees half a file.
    save_module(F->net(), stem + ".pt");
    torch::save(state, stem + ".rng.tmp");
    std::filesystem::rename(stem + ".rng.tmp", stem + ".rng");
  }
}

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("cfx_test_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

Request toy_flip_request(int64_t n, uint64_t seed) {
  Request r;
  r.classifier = toy_classifier("cnn");
  r.images = toy_dataset(n, 21).images;
  r.targets = (r.classifier->predict_proba(r.images).argmax(1) + 1) % 2;
  r.seed = seed;
  return r;
}

}  // namespace cfx::testing
