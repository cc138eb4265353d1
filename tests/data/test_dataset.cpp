#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/dataset.h"
#include "cfx/data/image_folder.h"
#include "cfx/data/image_io.h"
#include "data/temp_dir.h"

namespace {

using cfx::test::error_of;

using cfx::test::TempDir;

// Item i has every pixel, label, attribute, mask and factor derived from i.
cfx::Dataset numbered(int64_t n) {
  cfx::Dataset ds;
  ds.name = "toy";
  ds.split = "train";
  auto i = torch::arange(n, torch::kFloat32);
  ds.images = i.view({n, 1, 1, 1}).expand({n, 1, 2, 2}).contiguous() / 100.0;
  ds.labels = torch::arange(n, torch::kInt64) % 3;
  ds.class_names = {"a", "b", "c"};
  ds.attribute_names = {"i", "2i"};
  ds.attributes = torch::stack({i, 2 * i}, 1);
  ds.masks = (i.view({n, 1, 1, 1}).expand({n, 1, 2, 2}).remainder(2)).contiguous();
  ds.factor_names = {"-i"};
  ds.factors = -i.view({n, 1});
  for (int64_t k = 0; k < n; ++k) ds.sources.push_back("toy:train:" + std::to_string(k));
  return ds;
}

TEST(Dataset, SelectAndHeadSliceEveryField) {
  auto ds = numbered(6);
  auto sel = ds.select(torch::tensor({4, 1, 4}, torch::kInt64));
  ASSERT_EQ(sel.size(), 3);
  EXPECT_EQ(sel.name, "toy");
  EXPECT_EQ(sel.class_names, ds.class_names);
  EXPECT_EQ(sel.attribute_names, ds.attribute_names);
  EXPECT_EQ(sel.factor_names, ds.factor_names);
  EXPECT_TRUE(torch::allclose(sel.images.select(1, 0).select(1, 0).select(1, 0),
                              torch::tensor({0.04f, 0.01f, 0.04f})));
  EXPECT_TRUE(torch::equal(sel.labels, torch::tensor({1, 1, 1}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(sel.attributes.select(1, 1), torch::tensor({8.0f, 2.0f, 8.0f})));
  EXPECT_TRUE(torch::equal(sel.masks.flatten(1).select(1, 3), torch::tensor({0.0f, 1.0f, 0.0f})));
  EXPECT_TRUE(torch::equal(sel.factors.view(-1), torch::tensor({-4.0f, -1.0f, -4.0f})));
  EXPECT_EQ(sel.sources, (std::vector<std::string>{"toy:train:4", "toy:train:1", "toy:train:4"}));
  // int32 indices are accepted too.
  EXPECT_EQ(ds.select(torch::tensor({5}, torch::kInt32)).sources.at(0), "toy:train:5");

  auto head = ds.head(2);
  EXPECT_EQ(head.size(), 2);
  EXPECT_EQ(head.sources.back(), "toy:train:1");
  EXPECT_EQ(ds.head(100).size(), 6);
  EXPECT_EQ(ds.head(0).size(), 0);

  // Undefined optional fields stay undefined.
  cfx::Dataset bare;
  bare.images = torch::zeros({3, 1, 2, 2});
  bare.labels = torch::zeros({3}, torch::kInt64);
  auto b = bare.head(2);
  EXPECT_EQ(b.size(), 2);
  EXPECT_FALSE(b.attributes.defined());
  EXPECT_FALSE(b.masks.defined());
  EXPECT_TRUE(b.sources.empty());

  auto msg = error_of([&] { ds.select(torch::tensor({0, 6}, torch::kInt64)); });
  EXPECT_NE(msg.find("item index 6 is out of range"), std::string::npos) << msg;
  EXPECT_THROW(ds.select(torch::tensor({-1}, torch::kInt64)), cfx::Error);
  EXPECT_THROW(ds.select(torch::tensor({0.5f})), cfx::Error);
  EXPECT_THROW(ds.head(-1), cfx::Error);
}

TEST(Dataset, LoadDatasetRejectsUnknownNamesSplitsAndLimits) {
  EXPECT_EQ(cfx::dataset_names(), (std::vector<std::string>{"fashion-mnist", "mnist", "shapes"}));
  auto msg = error_of([] { cfx::load_dataset("cifar10"); });
  EXPECT_NE(msg.find("unknown dataset 'cifar10'; known: fashion-mnist, mnist, shapes, or a "
                     "folder root/<class>/*.png"),
            std::string::npos)
      << msg;
  cfx::DatasetOptions opt;
  opt.split = "validation";
  msg = error_of([&] { cfx::load_dataset("shapes", opt); });
  EXPECT_NE(msg.find("unknown split 'validation'"), std::string::npos) << msg;
  opt.split = "train";
  opt.limit = 0;
  EXPECT_THROW(cfx::load_dataset("shapes", opt), cfx::Error);
  opt.limit = 5;
  opt.shapes_rule = "nope";
  msg = error_of([&] { cfx::load_dataset("shapes", opt); });
  EXPECT_NE(msg.find("known rules"), std::string::npos) << msg;
}

TEST(Dataset, LoadsShapesWithDefaultsLimitAndSpeed) {
  const auto t0 = std::chrono::steady_clock::now();
  auto train = cfx::load_dataset("shapes");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("generate_10000_seconds", std::to_string(secs));
  EXPECT_LT(secs, 10.0);  // loose: shared CI machines; typically a fraction of a second
  EXPECT_EQ(train.size(), 10000);
  EXPECT_EQ(train.num_classes(), 3);

  cfx::DatasetOptions opt;
  opt.split = "test";
  opt.shapes_size = 48;
  opt.shapes_rule = "red-circle";
  opt.limit = 10;
  opt.seed = 5;
  auto test = cfx::load_dataset("shapes", opt);
  EXPECT_EQ(test.images.sizes(), (std::vector<int64_t>{10, 3, 48, 48}));
  EXPECT_EQ(test.num_classes(), 2);
  opt.limit = -1;
  EXPECT_EQ(cfx::load_dataset("shapes", opt).size(), 2000);
  // The limit takes the first items of the full split.
  opt.shapes_size = 16;
  opt.shapes_count = 50;
  auto fifty = cfx::load_dataset("shapes", opt);
  EXPECT_EQ(fifty.size(), 50);
  opt.limit = 20;
  EXPECT_TRUE(torch::equal(cfx::load_dataset("shapes", opt).images, fifty.images.slice(0, 0, 20)));
  opt.shapes_count = -5;
  EXPECT_THROW(cfx::load_dataset("shapes", opt), cfx::Error);
}

// The mnist split must not follow DatasetOptions::seed: a fake package with one distinct image
// per item (pixel k lit for item k of each digit) loads identically under two seeds.
TEST(Dataset, MnistSplitIgnoresTheSeed) {
  TempDir dir("mnist_seed");
  for (int d = 0; d < 10; ++d) {
    std::string json = "{\"data\":[";
    for (int k = 0; k < 5; ++k) {
      for (int p = 0; p < 784; ++p)
        json += std::string(p || k ? "," : "") + (p == k + 10 * d ? "1" : "0");
    }
    cfx::write_atomic(dir.str(std::to_string(d) + ".json"), json + "]}");
  }
  ASSERT_EQ(setenv("CFX_MNIST_DIR", dir.str().c_str(), 1), 0);
  cfx::DatasetOptions opt;
  opt.split = "test";
  opt.seed = 1;
  auto a = cfx::load_dataset("mnist", opt);
  opt.seed = 2;
  auto b = cfx::load_dataset("mnist", opt);
  unsetenv("CFX_MNIST_DIR");
  EXPECT_EQ(a.size(), 10);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
}

void write_grey(const std::string& path, int h, int w, float v) {
  cfx::write_png(path, torch::full({1, h, w}, v));
}

TEST(ImageFolder, LoadsClassesInSortedOrder) {
  TempDir dir("folder");
  namespace fs = std::filesystem;
  fs::create_directories(dir.str("dog"));
  fs::create_directories(dir.str("cat"));
  fs::create_directories(dir.str(".hidden"));
  write_grey(dir.str("dog/b.png"), 8, 8, 0.2f);
  write_grey(dir.str("dog/a.PNG"), 8, 8, 0.4f);
  write_grey(dir.str("cat/a.png"), 8, 8, 0.6f);
  write_grey(dir.str("cat/big.png"), 16, 16, 1.0f);  // resized to the first image's 8x8
  write_grey(dir.str(".hidden/x.png"), 8, 8, 0.0f);
  cfx::write_atomic(dir.str("cat/readme.txt"), "not an image");

  testing::internal::CaptureStderr();
  cfx::DatasetOptions opt;
  opt.split = "test";  // folders have no splits: everything is loaded
  auto ds = cfx::load_dataset(dir.str(), opt);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(ds.split, "all");
  EXPECT_EQ(ds.name, dir.str());
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(ds.size(), 4);
  EXPECT_EQ(ds.images.sizes(), (std::vector<int64_t>{4, 1, 8, 8}));
  EXPECT_TRUE(torch::equal(ds.labels, torch::tensor({0, 0, 1, 1}, torch::kInt64)));
  EXPECT_EQ(ds.sources, (std::vector<std::string>{dir.str("cat/a.png"), dir.str("cat/big.png"),
                                                  dir.str("dog/a.PNG"), dir.str("dog/b.png")}));
  const auto means = ds.images.mean({1, 2, 3});
  EXPECT_TRUE(torch::allclose(means, torch::tensor({0.6f, 1.0f, 0.4f, 0.2f}), 0, 1.0 / 255))
      << means;
  EXPECT_NE(
      err.find("resized 1 image of " + dir.str() + " to 8x8, the size of " + dir.str("cat/a.png")),
      std::string::npos)
      << err;

  opt.limit = 3;
  EXPECT_EQ(cfx::load_dataset(dir.str(), opt).size(), 3);
}

TEST(ImageFolder, BadFoldersAreUserErrors) {
  TempDir dir("folder_bad");
  namespace fs = std::filesystem;
  auto msg = error_of([&] { cfx::load_image_folder(dir.str()); });
  EXPECT_NE(msg.find("no class subfolders"), std::string::npos) << msg;

  write_grey(dir.str("loose.png"), 4, 4, 0.5f);
  msg = error_of([&] { cfx::load_image_folder(dir.str()); });
  EXPECT_NE(msg.find("holds images but no class subfolders"), std::string::npos) << msg;

  fs::create_directories(dir.str("a"));
  fs::create_directories(dir.str("b"));
  msg = error_of([&] { cfx::load_image_folder(dir.str()); });
  EXPECT_NE(msg.find("holds no images"), std::string::npos) << msg;

  write_grey(dir.str("a/1.png"), 4, 4, 0.5f);
  cfx::write_png(dir.str("b/2.png"), torch::rand({3, 4, 4}));
  msg = error_of([&] { cfx::load_image_folder(dir.str()); });
  EXPECT_NE(msg.find(dir.str("b/2.png") + " has 3 channels"), std::string::npos) << msg;

  cfx::write_atomic(dir.str("b/2.png"), "garbage");
  msg = error_of([&] { cfx::load_image_folder(dir.str()); });
  EXPECT_NE(msg.find(dir.str("b/2.png")), std::string::npos) << msg;

  EXPECT_THROW(cfx::load_image_folder(dir.str("missing")), cfx::Error);
}

}  // namespace
