#include <gtest/gtest.h>

#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/image_io.h"
#include "data/temp_dir.h"

namespace {

using cfx::test::error_of;

using cfx::test::TempDir;

void write_bytes(const std::string& path, const std::vector<uchar>& bytes) {
  cfx::write_atomic(path, std::string(bytes.begin(), bytes.end()));
}

TEST(ImageIo, RgbRoundTripWithin1Of255AndStoresBgrForOpenCv) {
  TempDir dir("img_rgb");
  torch::manual_seed(1);
  auto img = torch::rand({3, 5, 7});
  const auto path = dir.str("x.png");
  cfx::write_png(path, img);
  auto back = cfx::read_image(path);
  ASSERT_EQ(back.sizes(), img.sizes());
  EXPECT_EQ(back.scalar_type(), torch::kFloat32);
  EXPECT_LE((back - img).abs().max().item<float>(), 1.0f / 255.0f);

  // OpenCV's own reader sees B, G, R: checks that the channel order is swapped exactly once.
  cv::Mat bgr = cv::imread(path, cv::IMREAD_UNCHANGED);
  ASSERT_EQ(bgr.channels(), 3);
  const auto px = bgr.at<cv::Vec3b>(2, 4);
  EXPECT_NEAR(px[0] / 255.0, img[2][2][4].item<float>(), 0.5 / 255 + 1e-6);
  EXPECT_NEAR(px[2] / 255.0, img[0][2][4].item<float>(), 0.5 / 255 + 1e-6);
}

TEST(ImageIo, GreyRoundTripAndClamping) {
  TempDir dir("img_grey");
  auto img = torch::linspace(-0.5, 1.5, 24).view({1, 4, 6});
  img[0][0][0] = std::numeric_limits<float>::quiet_NaN();
  const auto path = dir.str("g.png");
  cfx::write_png(path, img);
  auto back = cfx::read_image(path);
  ASSERT_EQ(back.sizes(), (std::vector<int64_t>{1, 4, 6}));
  auto expected = img.nan_to_num(0.0).clamp(0, 1);
  EXPECT_LE((back - expected).abs().max().item<float>(), 1.0f / 255.0f);
  EXPECT_EQ(back[0][0][0].item<float>(), 0.0f);
  EXPECT_EQ(back[0][3][5].item<float>(), 1.0f);
}

TEST(ImageIo, SixteenBitAlphaAndGreyAlphaAreConverted) {
  TempDir dir("img_depth");
  cv::Mat grey16(3, 4, CV_16UC1, cv::Scalar(32768));
  ASSERT_TRUE(cv::imwrite(dir.str("g16.png"), grey16));
  auto g = cfx::read_image(dir.str("g16.png"));
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_NEAR(g.mean().item<float>(), 32768.0 / 65535.0, 1e-5);

  cv::Mat bgra(2, 3, CV_8UC4, cv::Scalar(10, 20, 200, 7));  // B, G, R, A
  ASSERT_TRUE(cv::imwrite(dir.str("a.png"), bgra));
  auto rgb = cfx::read_image(dir.str("a.png"));
  ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 2, 3}));
  EXPECT_NEAR(rgb[0][1][1].item<float>(), 200 / 255.0, 1e-6);
  EXPECT_NEAR(rgb[2][1][1].item<float>(), 10 / 255.0, 1e-6);

  // Grey + alpha PNG (colour type 4), 2x1 pixels (grey 0x80, alpha 0x40), (0xff, 0xff);
  // built by hand because OpenCV cannot write two channels.
  static const unsigned char kGreyAlpha[] = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
      0x44, 0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x08, 0x04, 0x00, 0x00,
      0x00, 0x5e, 0x2b, 0xb7, 0x01, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
      0x9c, 0x63, 0x68, 0x70, 0xf8, 0xff, 0x1f, 0x00, 0x05, 0xc2, 0x02, 0xbf, 0xb0, 0x55,
      0xd2, 0xe4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  write_bytes(dir.str("ga.png"), std::vector<uchar>(std::begin(kGreyAlpha), std::end(kGreyAlpha)));
  auto ga = cfx::read_image(dir.str("ga.png"));
  ASSERT_EQ(ga.sizes(), (std::vector<int64_t>{1, 1, 2}));
  EXPECT_NEAR(ga[0][0][0].item<float>(), 0x80 / 255.0, 1e-6);
  EXPECT_NEAR(ga[0][0][1].item<float>(), 1.0, 1e-6);
}

TEST(ImageIo, BadFilesAreUserErrorsNamingThePath) {
  TempDir dir("img_bad");
  const auto empty = dir.str("empty.png");
  cfx::write_atomic(empty, "");
  auto msg = error_of([&] { cfx::read_image(empty); });
  EXPECT_NE(msg.find("cannot read image " + empty + ": not a valid image file"), std::string::npos)
      << msg;

  std::vector<uchar> png;
  ASSERT_TRUE(cv::imencode(".png", cv::Mat(16, 16, CV_8UC3, cv::Scalar(1, 2, 3)), png));
  png.resize(png.size() / 2);
  const auto truncated = dir.str("truncated.png");
  write_bytes(truncated, png);
  msg = error_of([&] { cfx::read_image(truncated); });
  EXPECT_NE(msg.find(truncated + ": not a valid image file (truncated PNG"), std::string::npos)
      << msg;

  std::vector<uchar> jpg;
  cv::Mat noise(32, 32, CV_8UC3);
  cv::randu(noise, 0, 255);
  ASSERT_TRUE(cv::imencode(".jpg", noise, jpg));
  jpg.resize(jpg.size() * 2 / 3);
  const auto truncated_jpg = dir.str("truncated.jpg");
  write_bytes(truncated_jpg, jpg);
  msg = error_of([&] { cfx::read_image(truncated_jpg); });
  EXPECT_NE(msg.find("truncated JPEG"), std::string::npos) << msg;

  const auto text = dir.str("notes.png");
  cfx::write_atomic(text, "this is not an image\n");
  msg = error_of([&] { cfx::read_image(text); });
  EXPECT_NE(msg.find(text + ": not a valid image file"), std::string::npos) << msg;

  msg = error_of([&] { cfx::read_image(dir.str("missing.png")); });
  EXPECT_NE(msg.find("missing.png"), std::string::npos) << msg;
}

TEST(ImageIo, EncodeRejectsBadShapes) {
  EXPECT_THROW(cfx::encode_png(torch::zeros({2, 4, 4})), cfx::Error);
  EXPECT_THROW(cfx::encode_png(torch::zeros({1, 1, 4, 4})), cfx::Error);
  EXPECT_THROW(cfx::encode_png(torch::Tensor()), cfx::Error);
  EXPECT_THROW(cfx::write_png("/nonexistent/cfx/x.png", torch::zeros({1, 2, 2})), cfx::Error);
}

TEST(ImageIo, ConformChecksChannelsAndResizes) {
  auto msg = error_of([] { cfx::conform_image(torch::zeros({3, 8, 8}), {1, 8, 8}, "x.png"); });
  EXPECT_NE(msg.find("x.png has 3 channels but the model expects 1"), std::string::npos) << msg;
  EXPECT_THROW(cfx::conform_image(torch::zeros({1, 8, 8}), {3, 8, 8}, "y"), cfx::Error);
  EXPECT_THROW(cfx::conform_image(torch::zeros({1, 1, 8, 8}), {1, 8, 8}, "y"), cfx::Error);

  // 2x2 blocks of constant value: area interpolation to half size recovers the blocks exactly.
  auto blocks = torch::tensor({{0.0f, 0.25f}, {0.5f, 1.0f}}).view({1, 2, 2});
  auto big = blocks.repeat_interleave(2, 1).repeat_interleave(2, 2);
  ASSERT_EQ(big.sizes(), (std::vector<int64_t>{1, 4, 4}));
  testing::internal::CaptureStderr();
  auto small = cfx::conform_image(big, {1, 2, 2}, "blocks.png");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(torch::allclose(small, blocks, 1e-6, 1e-6)) << small;
  EXPECT_NE(err.find("resized blocks.png from 4x4 to 2x2"), std::string::npos) << err;

  auto rgb = cfx::conform_image(torch::rand({3, 40, 30}), {3, 28, 56}, "rgb");
  EXPECT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 28, 56}));

  // Same size: no notice and the values unchanged.
  auto same = torch::rand({1, 5, 5});
  testing::internal::CaptureStderr();
  EXPECT_TRUE(torch::equal(cfx::conform_image(same, {1, 5, 5}, "s"), same));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
