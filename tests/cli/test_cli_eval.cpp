// cfx eval and cfx train autoencoder end to end, and the deep-inversion presets from the CLI.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cfx/core/fs.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using cfx::testing::expect_user_error;
using cfx::testing::run_cfx;
using cfx::testing::shipped_model;
namespace fs = std::filesystem;

TEST(CliEval, TrainsAutoencodersAndScoresTwoMethodsOnTheSameItems) {
  auto dir = cfx::testing::temp_dir("cli_eval");
  auto aes = dir + "/aes.pt";
  auto t = run_cfx(
      "train autoencoder -q --data fashion-mnist --limit 800 --epochs 1 --seed 2 "
      "--out " +
      aes);
  ASSERT_EQ(t.code, 0) << t.err;
  auto side = nlohmann::json::parse(cfx::read_file(dir + "/aes.json"));
  EXPECT_EQ(side["kind"], "autoencoders");
  EXPECT_EQ(side["classes"].size(), 10u);

  auto r = run_cfx("eval -q --model " + shipped_model("fashion-mnist-cnn.pt") +
                   " --data fashion-mnist --n 6 --methods pixel,disc --set steps=150" +
                   " --set disc.fit_steps=200 --oracle " + shipped_model("fashion-mnist-cnn.pt") +
                   " --autoencoders " + aes + " --out " + dir + "/run");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("IM1"), std::string::npos) << r.out;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/run/eval.json"));
  ASSERT_EQ(j["methods"].size(), 2u);
  EXPECT_EQ(j["methods"][1]["config"]["options"]["fit_steps"], 200);
  EXPECT_EQ(j["methods"][0]["config"]["options"]["steps"], 150);
  for (const auto& m : j["methods"]) {
    const auto& s = m["summary"];
    for (const char* k : {"validity", "oracle_validity", "l1", "im1", "im2", "seconds"})
      ASSERT_TRUE(s.contains(k)) << k;
    // The model is its own oracle here, so the two validities agree.
    EXPECT_DOUBLE_EQ(s["validity"]["mean"].get<double>(),
                     s["oracle_validity"]["mean"].get<double>());
    EXPECT_EQ(s["validity"]["n"], 6);
  }
  // Each method's folder is a full explain result for the same items and targets.
  auto a = nlohmann::json::parse(cfx::read_file(dir + "/run/pixel/result.json"));
  auto b = nlohmann::json::parse(cfx::read_file(dir + "/run/disc/result.json"));
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(a["items"][i]["target_class"], b["items"][i]["target_class"]);
  EXPECT_TRUE(fs::exists(fs::path(dir) / "run/disc" / b["items"][0]["stages"].get<std::string>()));
  auto csv = cfx::read_file(dir + "/run/eval.csv");
  EXPECT_EQ(csv.rfind("method,metric,mean,lo,hi,n\n", 0), 0u);
  EXPECT_NE(csv.find("disc,im1,"), std::string::npos);
  // One report over both methods, and each method's folder keeps its own.
  auto html = cfx::read_file(dir + "/run/report.html");
  EXPECT_NE(html.find(">pixel</button>"), std::string::npos);
  EXPECT_NE(html.find(">disc</button>"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir + "/run/pixel/report.html"));
  EXPECT_TRUE(fs::exists(dir + "/run/disc/report.html"));
}

TEST(CliEval, BadMethodsOptionsAndFilesFailClearly) {
  auto dir = cfx::testing::temp_dir("cli_eval_err");
  auto m = shipped_model("fashion-mnist-cnn.pt");
  auto base = "eval --model " + m + " --data fashion-mnist --n 2 --out " + dir + " ";
  expect_user_error(run_cfx(base + "--methods pixel,nope"), "nope");
  expect_user_error(run_cfx(base + "--set nope.steps=3"), "nope");
  expect_user_error(run_cfx(base + "--set disc.stages=0.9,0.2 --methods disc"), "stages");
  expect_user_error(run_cfx(base + "--corrupt fog:1"), "fog");
  expect_user_error(run_cfx(base + "--autoencoders " + m), "not autoencoders");
  expect_user_error(run_cfx(base + "--oracle " + shipped_model("shapes-cnn.pt")), "--oracle");
  expect_user_error(run_cfx("explain --model " + m +
                            " --data fashion-mnist --n 1 --method disc "
                            "--set duq=1 --out " +
                            dir),
                    "DUQ");
}

TEST(CliEval, ExplainWithDipWritesPriorQuality) {
  auto dir = cfx::testing::temp_dir("cli_dip");
  auto r = run_cfx("explain -q --model " + shipped_model("fashion-mnist-cnn.pt") +
                   " --data fashion-mnist --n 3 --method dip --out " + dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/result.json"));
  EXPECT_GT(j["summary"]["mean_prior_psnr"].get<double>(), 25.0);
  EXPECT_GE(j["summary"]["validity"].get<double>(), 0.66);
}
