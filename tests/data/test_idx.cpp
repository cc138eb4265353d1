#include <gtest/gtest.h>

#include <functional>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/dataset.h"
#include "cfx/data/fashion_mnist.h"
#include "cfx/data/idx.h"
#include "cfx/data/morphometry.h"
#include "data/temp_dir.h"

namespace {

using cfx::test::error_of;

using cfx::test::TempDir;

std::string be32(uint32_t v) {
  std::string s;
  for (int k = 24; k >= 0; k -= 8) s.push_back(static_cast<char>((v >> k) & 0xff));
  return s;
}

std::string ramp(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 37) % 256);
  return s;
}

TEST(Idx, GzipAndPlainRoundTrip) {
  TempDir dir("idx_rt");
  const auto pixels = ramp(2 * 3 * 4);
  cfx::write_idx(dir.str("img.gz"), {2, 3, 4}, pixels);
  const auto raw = cfx::read_file(dir.str("img.gz"));
  ASSERT_GE(raw.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(raw[0]), 0x1f);  // gzip magic: really compressed
  EXPECT_EQ(static_cast<unsigned char>(raw[1]), 0x8b);

  auto images = cfx::read_idx_images(dir.str("img.gz"));
  ASSERT_EQ(images.sizes(), (std::vector<int64_t>{2, 1, 3, 4}));
  EXPECT_EQ(images.scalar_type(), torch::kFloat32);
  auto expected = torch::from_blob(const_cast<char*>(pixels.data()), {2, 1, 3, 4}, torch::kUInt8)
                      .to(torch::kFloat32) /
                  255.0;
  EXPECT_TRUE(torch::allclose(images, expected));
  EXPECT_NEAR(images[1][0][2][3].item<float>(), static_cast<unsigned char>(pixels[23]) / 255.0,
              1e-6);

  cfx::write_idx(dir.str("lab"), {5}, std::string("\x00\x09\x03\x01\x07", 5));
  auto labels = cfx::read_idx_labels(dir.str("lab"));
  EXPECT_EQ(labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(labels, torch::tensor({0, 9, 3, 1, 7}, torch::kInt64)));

  auto arr = cfx::read_idx(dir.str("img.gz"), 3, "pixels");
  EXPECT_EQ(arr.dims, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(arr.data, pixels);
}

TEST(Idx, CorruptFilesNameTheFileAndTheProblem) {
  TempDir dir("idx_bad");
  const auto path = dir.str("bad");

  cfx::write_atomic(path, be32(0x802) + be32(1) + be32(2) + "ab");
  auto msg = error_of([&] { cfx::read_idx_images(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad magic number 0x00000802 (expected 0x00000803"), std::string::npos) << msg;
  // An image file is not a label file.
  cfx::write_idx(path, {1, 2, 2}, "abcd");
  msg = error_of([&] { cfx::read_idx_labels(path); });
  EXPECT_NE(msg.find("expected 0x00000801"), std::string::npos) << msg;

  // Header says 5 images of 2x2, payload has 3 of them.
  cfx::write_atomic(path, be32(0x803) + be32(5) + be32(2) + be32(2) + ramp(12));
  msg = error_of([&] { cfx::read_idx_images(path); });
  EXPECT_NE(msg.find("truncated: expected 20 bytes of pixels, got 12"), std::string::npos) << msg;

  cfx::write_atomic(path, be32(0x801) + be32(3) + "abcd");
  msg = error_of([&] { cfx::read_idx_labels(path); });
  EXPECT_NE(msg.find("1 extra bytes"), std::string::npos) << msg;

  cfx::write_atomic(path, be32(0x803) + be32(0) + be32(2) + be32(2));
  msg = error_of([&] { cfx::read_idx_images(path); });
  EXPECT_NE(msg.find("dimension 0 is 0"), std::string::npos) << msg;

  cfx::write_atomic(path, be32(0x803) + be32(5));
  msg = error_of([&] { cfx::read_idx_images(path); });
  EXPECT_NE(msg.find("truncated header"), std::string::npos) << msg;

  // Dimensions whose product overflows 64 bits must be reported, not wrap around.
  cfx::write_atomic(path,
                    be32(0x803) + be32(0xffffffffu) + be32(0xffffffffu) + be32(0xffffffffu) + "x");
  EXPECT_THROW(cfx::read_idx_images(path), cfx::Error);

  cfx::write_atomic(path, "");
  EXPECT_THROW(cfx::read_idx_images(path), cfx::Error);
  EXPECT_THROW(cfx::read_idx_images(dir.str("missing.gz")), cfx::Error);

  // A gzip stream cut short.
  cfx::write_idx(dir.str("big.gz"), {50, 20, 20}, ramp(50 * 20 * 20));
  auto gz = cfx::read_file(dir.str("big.gz"));
  cfx::write_atomic(dir.str("cut.gz"), gz.substr(0, gz.size() / 2));
  msg = error_of([&] { cfx::read_idx_images(dir.str("cut.gz")); });
  EXPECT_NE(msg.find(dir.str("cut.gz")), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  EXPECT_THROW(cfx::write_idx(path, {2, 2}, "abc"), cfx::Error);
}

// A fake Fashion-MNIST folder with tiny files exercises the loader without the package.
TEST(FashionMnist, LoaderChecksFilesAgainstEachOther) {
  TempDir dir("fmnist_fake");
  cfx::write_idx(dir.str("t10k-images-idx3-ubyte.gz"), {3, 28, 28}, ramp(3 * 784));
  cfx::write_idx(dir.str("t10k-labels-idx1-ubyte.gz"), {3}, std::string("\x02\x00\x09", 3));
  auto ds = cfx::load_fashion_mnist("test", dir.str());
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.images.sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(ds.labels, torch::tensor({2, 0, 9}, torch::kInt64)));
  EXPECT_EQ(ds.class_names.at(9), "Ankle boot");
  EXPECT_EQ(ds.sources.at(2), "fashion-mnist:test:2");
  EXPECT_EQ(ds.split, "test");

  // Uncompressed copies are accepted too.
  cfx::write_idx(dir.str("train-images-idx3-ubyte"), {2, 28, 28}, ramp(2 * 784));
  cfx::write_idx(dir.str("train-labels-idx1-ubyte"), {3}, std::string("\x01\x02\x03", 3));
  auto msg = error_of([&] { cfx::load_fashion_mnist("train", dir.str()); });
  EXPECT_NE(msg.find("holds 2 images but"), std::string::npos) << msg;
  EXPECT_NE(msg.find("holds 3 labels"), std::string::npos) << msg;

  cfx::write_idx(dir.str("train-labels-idx1-ubyte"), {2}, std::string("\x01\x0a", 2));
  msg = error_of([&] { cfx::load_fashion_mnist("train", dir.str()); });
  EXPECT_NE(msg.find("label 10"), std::string::npos) << msg;

  cfx::write_idx(dir.str("train-images-idx3-ubyte"), {2, 14, 14}, ramp(2 * 196));
  msg = error_of([&] { cfx::load_fashion_mnist("train", dir.str()); });
  EXPECT_NE(msg.find("14x14"), std::string::npos) << msg;

  msg = error_of([&] { cfx::load_fashion_mnist("train", dir.str("nowhere")); });
  EXPECT_NE(msg.find("dataset-fashion-mnist"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/install-deps"), std::string::npos) << msg;
  EXPECT_THROW(cfx::load_fashion_mnist("valid", dir.str()), cfx::Error);
}

TEST(FashionMnist, EnvironmentVariableOverridesTheFolder) {
  TempDir dir("fmnist_env");
  cfx::write_idx(dir.str("t10k-images-idx3-ubyte.gz"), {1, 28, 28}, ramp(784));
  cfx::write_idx(dir.str("t10k-labels-idx1-ubyte.gz"), {1}, std::string("\x04", 1));
  ASSERT_EQ(setenv("CFX_FASHION_MNIST_DIR", dir.str().c_str(), 1), 0);
  EXPECT_EQ(cfx::fashion_mnist_dir(), dir.str());
  auto ds = cfx::load_fashion_mnist("test");
  unsetenv("CFX_FASHION_MNIST_DIR");
  EXPECT_EQ(ds.size(), 1);
  EXPECT_EQ(ds.labels[0].item<int64_t>(), 4);
  EXPECT_EQ(cfx::fashion_mnist_dir(), "/usr/share/datasets/fashion-mnist");
}

class RealFashionMnist : public testing::Test {
 protected:
  void SetUp() override {
    if (!cfx::is_file(cfx::fashion_mnist_dir() + "/train-images-idx3-ubyte.gz")) {
      GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    }
  }
};

TEST_F(RealFashionMnist, SplitsHaveTheRightSizesAndLabels) {
  auto train = cfx::load_fashion_mnist("train");
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(train.labels.size(0), 60000);
  EXPECT_EQ(train.num_classes(), 10);
  EXPECT_EQ(train.class_names.front(), "T-shirt/top");
  // Fashion-MNIST is exactly balanced: 6000 per class in train, 1000 in test.
  EXPECT_TRUE(torch::equal(torch::bincount(train.labels), torch::full({10}, 6000, torch::kInt64)));
  EXPECT_GE(train.images.min().item<float>(), 0.0f);
  EXPECT_LE(train.images.max().item<float>(), 1.0f);
  EXPECT_GT(train.images.max().item<float>(), 0.99f);  // scaled by 1/255, not left at 0..255

  auto test = cfx::load_fashion_mnist("test");
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(test.sources.at(99), "fashion-mnist:test:99");
  EXPECT_TRUE(torch::equal(torch::bincount(test.labels), torch::full({10}, 1000, torch::kInt64)));
}

// Garment silhouettes, measured after --limit: trousers are tall and narrow, bags and sandals
// wide and low, and dark garments still have their whole area measured.
TEST_F(RealFashionMnist, LoadDatasetMeasuresGarmentSilhouettes) {
  cfx::DatasetOptions o;
  o.split = "test";
  o.limit = 2000;
  auto d = cfx::load_dataset("fashion-mnist", o);
  ASSERT_EQ(d.attributes.sizes(), (std::vector<int64_t>{2000, 5}));
  EXPECT_EQ(d.attribute_names, cfx::morphometric_attribute_names());
  EXPECT_TRUE(torch::equal(d.attributes, cfx::fashion_mnist_attributes(d.images)));
  auto mean_of = [&](int64_t label, int64_t column) {
    return d.attributes.index({d.labels == label, column}).mean().item<double>();
  };
  const int64_t area = 0, width = 3, height = 4;
  EXPECT_GT(mean_of(1, height), 1.5 * mean_of(1, width));  // trouser
  EXPECT_GT(mean_of(8, width), mean_of(8, height));        // bag
  EXPECT_GT(mean_of(5, width), 1.5 * mean_of(5, height));  // sandal
  // At the digits' threshold (0.5) dark garments lose much of their area.
  auto strokes = cfx::morphometric_attributes(d.images).select(1, area);
  EXPECT_GT(d.attributes.select(1, area).mean().item<double>(),
            1.2 * strokes.mean().item<double>());
}

}  // namespace
