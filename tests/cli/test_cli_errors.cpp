// Bad input must give exactly one line "cfx: error: ..." and exit code 2: never a crash,
// a hang, a raw LibTorch backtrace, or a half-written output.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cfx/config.h"
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

// Non-finite numbers in flags and options are refused by name (CLI11 reads "nan" and "inf"
// as numbers; a method used to run on them, or silently fall back to its default).
TEST(CliErrors, NonFiniteNumbersAreRefusedByName) {
  auto dir = cfx::testing::temp_dir("cli_nonfinite");
  const std::string base =
      "explain --model " + model() + " --data fashion-mnist --n 1 --out " + dir;
  expect_user_error(run_cfx(base + " --lr nan"), "--lr: nan is not a finite number");
  expect_user_error(run_cfx(base + " --lr inf"), "--lr");
  expect_user_error(run_cfx(base + " --set l1=1e999"), "option l1");
  expect_user_error(run_cfx(base + " --method disc --set stages=[0.5,1e999]"), "option stages");
  EXPECT_FALSE(fs::exists(dir + "/result.json"));
}

// Models that misbehave fail before the search with one line saying what is wrong, instead of
// a result.json full of NaNs or a validity of 0 with nothing said.
TEST(CliErrors, MisbehavingModelsAreOneLineErrors) {
  if (std::system(CFX_PYTHON " -c 'import torch' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 cannot import torch";
  auto dir = cfx::testing::temp_dir("cli_bad_models");
  write(dir, "make.py", R"(import json, sys, torch
meta = {"cfx.json": json.dumps({"input_shape": [1, 28, 28], "classes": ["a", "b", "c"]})}
class Base(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(784, 3)
class Nan(Base):
    def forward(self, x):
        return self.lin(x.flatten(1)) * float("nan")
class Detached(Base):
    def forward(self, x):
        return self.lin(x.flatten(1)).detach()
class Raises(Base):
    def forward(self, x):
        if x.size(0) > 0:
            raise RuntimeError("boom inside forward")
        return self.lin(x.flatten(1))
class OneLogit(Base):
    def forward(self, x):
        return self.lin(x.flatten(1))[:, :1]
class IntLogits(Base):
    def forward(self, x):
        return self.lin(x.flatten(1)).round().long()
for name, m in [("nan", Nan()), ("detached", Detached()), ("raises", Raises()),
                ("onelogit", OneLogit()), ("int", IntLogits())]:
    torch.jit.script(m).save(sys.argv[1] + "/" + name + ".pt", _extra_files=meta)
# Without class names the number of classes comes from the logits.
shape_only = {"cfx.json": json.dumps({"input_shape": [1, 28, 28]})}
torch.jit.script(OneLogit()).save(sys.argv[1] + "/onelogit-nonames.pt", _extra_files=shape_only)
)");
  ASSERT_EQ(std::system((std::string(CFX_PYTHON) + " " + dir + "/make.py " + dir).c_str()), 0);
  auto run = [&](const std::string& name, const std::string& more = "") {
    return run_cfx("explain --model " + dir + "/" + name + ".pt --data fashion-mnist --n 3 " +
                   more + " --out " + dir + "/out-" + name);
  };
  expect_user_error(run("nan"), "NaN or infinite logits");
  expect_user_error(run("detached"), "passes no gradient to its input");
  expect_user_error(run("raises"), "boom inside forward");
  expect_user_error(run("onelogit"), "at least 2 classes");
  expect_user_error(run("onelogit-nonames"), "at least 2 classes");
  expect_user_error(run("int"), "floating point");
  for (auto name : {"nan", "detached", "raises", "onelogit", "onelogit-nonames", "int"})
    EXPECT_FALSE(fs::exists(dir + "/out-" + std::string(name) + "/result.json")) << name;
  // Methods that only read decisions still work on a model that passes no gradient.
  auto r = run_cfx("saliency -q --method occlusion --model " + dir +
                   "/detached.pt --data fashion-mnist --n 2 --out " + dir + "/occ");
  EXPECT_EQ(r.code, 0) << r.err;
  // latent's single edits read decisions only; its refinement follows the gradient.
  const std::string latent = "explain -q --method latent --model " + dir +
                             "/detached.pt --data fashion-mnist --n 2 --set shifter=" +
                             shipped_model("fashion-mnist-shifter.pt");
  r = run_cfx(latent + " --set search_steps=0 --out " + dir + "/latent");
  EXPECT_EQ(r.code, 0) << r.err;
  expect_user_error(run_cfx(latent + " --out " + dir + "/latent-refined"),
                    "latent with search_steps=0");
}

// Found by fuzz_options: a --set value that is not UTF-8 made the option's error message
// itself throw (nlohmann's dump), which the CLI reported as an internal error.
TEST(CliErrors, SetValueThatIsNotUtf8) {
  expect_user_error(run_cfx("explain -m " + shipped_model("fashion-mnist-cnn.pt") +
                            " --data fashion-mnist --n 1 --set \"$(printf 'steps=\\323')\""),
                    "is not valid UTF-8 text");
}

// Found by fuzz_sidecar: a sidecar field of the wrong type ("kind": [...]) escaped as
// nlohmann's type_error, an internal error.
TEST(CliErrors, SidecarFieldOfTheWrongType) {
  auto dir = cfx::testing::temp_dir("cli_sidecar_types");
  fs::copy_file(model(), dir + "/m.pt");
  auto meta = nlohmann::json::parse(cfx::read_file(shipped_model("fashion-mnist-cnn.json")));
  meta["kind"] = nlohmann::json::array({"classifier"});
  write(dir, "m.json", meta.dump());
  expect_user_error(run_cfx("info " + dir + "/m.pt"), "kind must be a string");
}
