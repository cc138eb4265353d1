// Acceptance: a classifier trained and exported by PyTorch (scripted and traced) is
// explained by the cfx binary with default settings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cfx/config.h"
#include "cfx/core/fs.h"
#include "cli/cli_runner.h"
#include "helpers.h"

namespace fs = std::filesystem;
using cfx::testing::run_cfx;

namespace {

const fs::path kDir = fs::path(CFX_BINARY_DIR) / "test-models" / "torchscript-trained";
const std::string kScript = std::string(CFX_SOURCE_DIR) + "/scripts/export_torchscript.py";

// Trains (1 epoch on 10k images, seconds) and exports once; reused while newer than the script.
std::string export_trained() {
  auto done = kDir / "traced.pt";
  if (fs::exists(done) && fs::last_write_time(done) >= fs::last_write_time(kScript)) return "";
  if (std::system(CFX_PYTHON " -c 'import torch' > /dev/null 2>&1") != 0)
    return std::string("skip: ") + CFX_PYTHON + " cannot import torch";
  std::string tmp = kDir.string() + ".tmp." + std::to_string(getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  fs::create_directories(kDir);
  std::string cmd = std::string(CFX_PYTHON) + " " + kScript + " --out " + tmp +
                    " --epochs 1 --train-size 10000 --threads 1 > " + tmp + "/export.log 2>&1";
  if (std::system(cmd.c_str()) != 0) return "fail: " + cmd;
  for (auto name : {"scripted.pt", "reference.pt", "export.log", "traced.pt"})
    fs::rename(fs::path(tmp) / name, kDir / name);
  fs::remove_all(tmp);
  return "";
}

class CliTorchScript : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto st = export_trained();
    if (st.rfind("skip: ", 0) == 0) GTEST_SKIP() << st;
    ASSERT_TRUE(st.empty()) << st;
    model_ = (kDir / (GetParam() + ".pt")).string();
  }
  std::string model_;
};

}  // namespace

TEST_P(CliTorchScript, InfoListsBatchNormLayers) {
  auto r = run_cfx("info --json " + model_);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["arch"], "torchscript");
  EXPECT_EQ(j["input_shape"], nlohmann::json({1, 28, 28}));
  EXPECT_GE(j["bn_layers"].size(), 3u);
  EXPECT_EQ(j["classes"][9], "Ankle boot");
}

TEST_P(CliTorchScript, ExplainsHundredTestImagesWithHighValidity) {
  auto out = cfx::testing::temp_dir("cli_ts_" + GetParam());
  auto r = run_cfx("explain -q --model " + model_ +
                   " --data fashion-mnist --split test --n 100 --target auto --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(out + "/result.json"));
  EXPECT_EQ(j["items"].size(), 100u);
  EXPECT_GE(j["summary"]["validity"].get<double>(), 0.95) << r.out;
}

// The deep-inversion presets work through the graph instrumentation: the BN prior and the
// feature term read the TorchScript model's captured activations.
TEST_P(CliTorchScript, DeepinvAndDiscRunOnTorchScriptModels) {
  for (std::string method : {"deepinv", "disc"}) {
    auto out = cfx::testing::temp_dir("cli_ts_" + method + GetParam());
    auto r = run_cfx("explain -q --model " + model_ + " --method " + method +
                     " --data fashion-mnist --split test --n 4 --target auto --set fit_steps=200" +
                     " --out " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(cfx::read_file(out + "/result.json"));
    EXPECT_EQ(j["config"]["method"], method);
    EXPECT_GE(j["summary"]["validity"].get<double>(), 0.75) << method << " " << r.out;
    if (method == "disc") {
      EXPECT_TRUE(fs::exists(fs::path(out) / j["items"][0]["stages"].get<std::string>()));
      EXPECT_GT(j["items"][0]["prior_psnr"].get<double>(), 20.0);
    }
  }
}

// FIDO needs only logits; the in-filler is named explicitly (a TorchScript file carries no
// training dataset, so no shipped inpainter is picked for it).
TEST_P(CliTorchScript, FidoRunsOnTorchScriptModels) {
  auto out = cfx::testing::temp_dir("cli_ts_fido" + GetParam());
  auto r = run_cfx("saliency -q --model " + model_ + " --data fashion-mnist --n 2 --steps 20" +
                   " --inpainter " + std::string(CFX_SOURCE_DIR) +
                   "/models/fashion-mnist-inpainter.pt --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(out + "/result.json"));
  EXPECT_TRUE(fs::exists(fs::path(out) / j["items"][1]["saliency_map"].get<std::string>()));
}

INSTANTIATE_TEST_SUITE_P(ScriptedAndTraced, CliTorchScript, ::testing::Values("scripted", "traced"),
                         [](const auto& info) { return info.param; });

// A TorchScript file that does not state its input shape takes the query images' shape, and
// the run says so in a note (--input-shape still wins).
TEST(CliTorchScriptShape, ModelWithoutMetadataTakesTheImagesShape) {
  if (std::system(CFX_PYTHON " -c 'import torch' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << CFX_PYTHON << " cannot import torch";
  auto dir = cfx::testing::temp_dir("cli_ts_noshape");
  cfx::write_atomic(dir + "/make.py",
                    "import sys, torch\n"
                    "torch.manual_seed(0)\n"
                    "m = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), "
                    "torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 28 * 28, 3))\n"
                    "torch.jit.script(m).save(sys.argv[1])\n");
  ASSERT_EQ(std::system((std::string(CFX_PYTHON) + " " + dir + "/make.py " + dir + "/m.pt").c_str()),
            0);
  const std::string m = "explain --model " + dir + "/m.pt --method pixel --steps 3 ";
  auto r = run_cfx(m + "--data fashion-mnist --n 2 --out " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("does not say its input shape; using [1, 28, 28], the query images'"),
            std::string::npos)
      << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/out/result.json"));
  EXPECT_EQ(j["model"]["input_shape"], nlohmann::json({1, 28, 28}));
  EXPECT_EQ(j["items"].size(), 2u);
  // The shape decides; a model that cannot take it fails with one line.
  r = run_cfx(m + "--data fashion-mnist --n 2 --input-shape 1,20,20 --out " + dir + "/bad");
  cfx::testing::expect_user_error(r, "m.pt");
  EXPECT_EQ(r.err.find("does not say its input shape"), std::string::npos) << r.err;
}
