// Bad input must give exactly one line "cfx: error: ..." and exit code 2: never a crash,
// a hang, a raw LibTorch backtrace, or a half-written output.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cfx/core/fs.h"
#include "cfx/data/image_io.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using cfx::testing::expect_user_error;
using cfx::testing::run_cfx;
using cfx::testing::shipped_model;
namespace fs = std::filesystem;

namespace {

std::string model() { return shipped_model("fashion-mnist-cnn.pt"); }

std::string write(const std::string& dir, const std::string& name, const std::string& bytes) {
  auto p = dir + "/" + name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

}  // namespace

TEST(CliErrors, UnknownFlagAndSubcommand) {
  expect_user_error(run_cfx("explain --model x.pt --bogus-flag"), "bogus-flag");
  expect_user_error(run_cfx("frobnicate"), "frobnicate");
}

TEST(CliErrors, MissingModelFile) {
  auto dir = cfx::testing::temp_dir("cli_missing");
  expect_user_error(run_cfx("info " + dir + "/nope.pt"), "not found");
  expect_user_error(
      run_cfx("explain --model " + dir + "/nope.pt --data fashion-mnist --n 1 --out " + dir),
      "not found");
}

TEST(CliErrors, TextFileAsModel) {
  auto dir = cfx::testing::temp_dir("cli_textmodel");
  auto p = write(dir, "model.pt", "this is not a model\n");
  expect_user_error(run_cfx("info " + p), "model.pt");
  auto z = write(dir, "empty.pt", "");
  expect_user_error(run_cfx("info " + z), "empty.pt");
}

TEST(CliErrors, ZeroByteAndTruncatedPng) {
  auto dir = cfx::testing::temp_dir("cli_png");
  auto empty = write(dir, "empty.png", "");
  auto out = dir + "/out";
  expect_user_error(run_cfx("explain --model " + model() + " --image " + empty + " --out " + out),
                    "empty.png");
  auto png = cfx::encode_png(torch::rand({1, 28, 28}));
  auto trunc = write(dir, "trunc.png", png.substr(0, png.size() / 2));
  expect_user_error(run_cfx("explain --model " + model() + " --image " + trunc + " --out " + out),
                    "trunc.png");
  EXPECT_FALSE(fs::exists(out + "/result.json"));
}

TEST(CliErrors, WrongChannelCount) {
  auto dir = cfx::testing::temp_dir("cli_channels");
  auto rgb = dir + "/rgb.png";
  cfx::write_png(rgb, torch::rand({3, 28, 28}));
  expect_user_error(
      run_cfx("explain --model " + model() + " --image " + rgb + " --out " + dir + "/out"),
      "channels");
}

TEST(CliErrors, TargetOutOfRange) {
  auto dir = cfx::testing::temp_dir("cli_target");
  expect_user_error(run_cfx("explain --model " + model() +
                            " --data fashion-mnist --n 2 --target 10 --out " + dir),
                    "out of range");
  expect_user_error(run_cfx("explain --model " + model() +
                            " --data fashion-mnist --n 2 --target Banana --out " + dir),
                    "Banana");
}

TEST(CliErrors, UnknownMethodAndBadOption) {
  auto dir = cfx::testing::temp_dir("cli_method");
  expect_user_error(run_cfx("explain --model " + model() +
                            " --data fashion-mnist --n 1 --method magic --out " + dir),
                    "unknown method 'magic'");
  expect_user_error(run_cfx("explain --model " + model() +
                            " --data fashion-mnist --n 1 --set tv=-1 --out " + dir),
                    "tv");
}

TEST(CliErrors, UnwritableOutputFolder) {
  auto dir = cfx::testing::temp_dir("cli_unwritable");
  auto file = write(dir, "afile", "x");
  // A folder below a regular file cannot exist, even for root.
  expect_user_error(
      run_cfx("explain --model " + model() + " --data fashion-mnist --n 1 --out " + file + "/sub"),
      file);
  expect_user_error(
      run_cfx("explain --model " + model() + " --data fashion-mnist --n 1 --out /proc/cfx-out"),
      "/proc/cfx-out");
}

TEST(CliErrors, UnknownDataset) {
  auto dir = cfx::testing::temp_dir("cli_data");
  expect_user_error(run_cfx("explain --model " + model() + " --data imagenet --n 1 --out " + dir),
                    "imagenet");
}
