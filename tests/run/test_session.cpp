// A session loads a model file or a dataset once and hands the same object back until the
// file or the request changes; companion models are found by one rule.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/models/companions.h"
#include "cfx/run/session.h"
#include "data/temp_dir.h"

using namespace cfx;
namespace fs = std::filesystem;

namespace {

// A copy of the shipped shapes classifier (weights and sidecar) in `dir`.
std::string copy_shapes_model(const cfx::test::TempDir& dir) {
  for (const char* ext : {".pt", ".json"})
    fs::copy_file(std::string(CFX_SOURCE_DIR) + "/models/shapes-cnn" + ext,
                  dir.str(std::string("shapes-cnn") + ext), fs::copy_options::overwrite_existing);
  return dir.str("shapes-cnn.pt");
}

}  // namespace

TEST(Session, LoadsAClassifierOnceUntilTheFileOrTheOverridesChange) {
  cfx::test::TempDir dir("session");
  const auto path = copy_shapes_model(dir);
  Session s;
  auto a = s.classifier(path);
  auto b = s.classifier(path);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(s.classifiers_loaded(), 1);

  ClassifierOverrides renamed;
  renamed.class_names = {"a", "b", "c"};
  auto c = s.classifier(path, renamed);
  EXPECT_NE(c.get(), a.get());
  EXPECT_EQ(c->class_names(), renamed.class_names);
  EXPECT_EQ(s.classifiers_loaded(), 2);
  EXPECT_EQ(s.classifier(path, renamed).get(), c.get());

  // A rewritten file (a new modification time) is loaded again.
  fs::last_write_time(path, fs::last_write_time(path) + std::chrono::seconds(5));
  auto d = s.classifier(path);
  EXPECT_NE(d.get(), a.get());
  EXPECT_EQ(s.classifiers_loaded(), 3);

  // A failed load caches nothing and throws as load_classifier does.
  EXPECT_TRUE(cfx::test::throws_naming([&] { s.classifier(dir.str("missing.pt")); }, "missing.pt"));
  EXPECT_EQ(s.classifiers_loaded(), 3);
  s.clear();
  EXPECT_NE(s.classifier(path).get(), d.get());
  EXPECT_EQ(s.classifiers_loaded(), 4);
}

TEST(Session, LoadsADatasetOncePerNameAndOptions) {
  Session s;
  DatasetOptions o;
  o.split = "test";
  o.shapes_count = 8;
  auto a = s.dataset("shapes", o);
  EXPECT_EQ(a->images.size(0), 8);
  EXPECT_EQ(s.dataset("shapes", o).get(), a.get());
  EXPECT_EQ(s.datasets_loaded(), 1);
  o.seed = 1;
  auto b = s.dataset("shapes", o);
  EXPECT_NE(b.get(), a.get());
  EXPECT_FALSE(torch::equal(a->images, b->images));
  EXPECT_EQ(s.datasets_loaded(), 2);
  EXPECT_TRUE(cfx::test::throws_naming([&] { s.dataset("no-such-data", o); }, "no-such-data"));
  EXPECT_EQ(s.datasets_loaded(), 2);
}

TEST(Companions, FoundBesideTheClassifierByDatasetAndKind) {
  cfx::test::TempDir dir("companions");
  auto F = load_classifier(copy_shapes_model(dir));
  ASSERT_EQ(F->info().dataset, "shapes");
  const auto cvae = dir.str("shapes-cvae.pt");
  EXPECT_EQ(companion_path(*F, "cvae"), cvae);
  EXPECT_EQ(companion_path(*F, "oracle-resnet", "mnist"), dir.str("mnist-oracle-resnet.pt"));
  EXPECT_EQ(find_companion("", F.get(), "cvae"), "");  // not there yet
  fs::copy_file(std::string(CFX_SOURCE_DIR) + "/models/shapes-cvae.pt", cvae);
  EXPECT_EQ(find_companion("", F.get(), "cvae"), cvae);
  EXPECT_EQ(find_companion("none", F.get(), "cvae"), "");
  EXPECT_EQ(find_companion("other.pt", F.get(), "cvae"), "other.pt");
  EXPECT_EQ(find_companion("", nullptr, "cvae"), "");
  EXPECT_EQ(recorded_path("shapes-attributes.pt", cvae), dir.str("shapes-attributes.pt"));
  EXPECT_EQ(recorded_path("/abs/a.pt", cvae), "/abs/a.pt");
  EXPECT_EQ(recorded_path("", cvae), "");
}
