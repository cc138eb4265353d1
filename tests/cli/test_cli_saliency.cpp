// cfx saliency, cfx train inpainter and the saliency metrics of cfx eval, end to end.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cfx/core/fs.h"
#include "cfx/report/npy.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using cfx::testing::expect_user_error;
using cfx::testing::run_cfx;
using cfx::testing::shipped_model;
namespace fs = std::filesystem;

TEST(CliSaliency, FidoWithTheShippedInpainterWritesMapsAndInfills) {
  auto out = cfx::testing::temp_dir("cli_sal_fido");
  // No --inpainter: the shipped fashion-mnist-inpainter.pt beside the model is found.
  auto r = run_cfx("saliency -q --model " + shipped_model("fashion-mnist-cnn.pt") +
                   " --data fashion-mnist --n 3 --steps 40 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(out + "/result.json"));
  EXPECT_EQ(j["command"], "saliency");
  EXPECT_EQ(j["config"]["method"], "fido");
  EXPECT_EQ(j["config"]["options"]["infill"], "inpainter");
  ASSERT_EQ(j["items"].size(), 3u);
  for (const auto& it : j["items"]) {
    auto map = cfx::read_npy(out + "/" + it["saliency_map"].get<std::string>());
    EXPECT_EQ(map.sizes(), (std::vector<int64_t>{28, 28}));
    EXPECT_GE(map.min().item<float>(), 0.f);
    EXPECT_LE(map.max().item<float>(), 1.f);
    EXPECT_TRUE(fs::exists(fs::path(out) / it["saliency"].get<std::string>()));
    EXPECT_TRUE(fs::exists(fs::path(out) / it["infill"].get<std::string>()));
    // The explained class defaults to the model's decision.
    EXPECT_EQ(it["target_class"], it["original_class"]);
    EXPECT_TRUE(it.contains("infill_prob"));
  }
}

TEST(CliSaliency, BaselinesAndObjectiveFlags) {
  auto base = cfx::testing::temp_dir("cli_sal_base");
  for (std::string args :
       {"--method gradient", "--method occlusion --infill blur", "--method bbmp --steps 30",
        "--method fido --objective sdr "
        "--infill local --steps 30"}) {
    auto r = run_cfx("saliency -q --model " + shipped_model("shapes-cnn.pt") +
                     " --data shapes --n 2 " + args + " --out " + base + "/x");
    ASSERT_EQ(r.code, 0) << args << ": " << r.err;
    auto j = nlohmann::json::parse(cfx::read_file(base + "/x/result.json"));
    EXPECT_EQ(j["items"].size(), 2u) << args;
  }
  auto j = nlohmann::json::parse(cfx::read_file(base + "/x/result.json"));
  EXPECT_EQ(j["config"]["options"]["objective"], "sdr");
  EXPECT_EQ(j["config"]["options"]["infill"], "local");
}

TEST(CliSaliency, BadInputsAreOneLineErrors) {
  auto out = cfx::testing::temp_dir("cli_sal_err");
  const std::string m = " --model " + shipped_model("shapes-cnn.pt") + " --data shapes --n 1 ";
  expect_user_error(run_cfx("saliency" + m + "--method pixel --out " + out), "cfx explain");
  expect_user_error(run_cfx("explain" + m + "--method fido --out " + out), "cfx saliency");
  expect_user_error(run_cfx("saliency" + m + "--infill paint --out " + out), "infill");
  expect_user_error(run_cfx("saliency" + m + "--objective most --out " + out), "objective");
  expect_user_error(run_cfx("saliency" + m + "--inpainter /nope/x.pt --out " + out), "/nope/x.pt");
  expect_user_error(run_cfx("saliency" + m + "--target 7 --out " + out), "out of range");
  // An inpainter for 1-channel images cannot fill 3-channel shapes.
  expect_user_error(run_cfx("saliency" + m + "--inpainter " + shipped_model("mnist-inpainter.pt") +
                            " --steps 2 --out " + out),
                    "inpainter");
}

TEST(CliSaliency, TrainInpainterReportsItsErrorAgainstSimpleInfillers) {
  auto dir = cfx::testing::temp_dir("cli_inpaint");
  auto r = run_cfx(
      "train inpainter -q --data mnist --limit 600 --epochs 1 --width 8 --eval-n 100 "
      "--seed 3 --out " +
      dir + "/ip.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  auto side = nlohmann::json::parse(cfx::read_file(dir + "/ip.json"));
  EXPECT_EQ(side["kind"], "inpainter");
  for (const char* k : {"inpainter", "mean", "blur", "local"})
    EXPECT_GT(side["test_l1_missing_by_infiller"][k].get<double>(), 0.0) << k;
  // The new checkpoint is usable as an in-filler.
  auto s =
      run_cfx("saliency -q --model " + shipped_model("mnist-cnn.pt") +
              " --data mnist --n 1 --steps 5 --inpainter " + dir + "/ip.pt --out " + dir + "/s");
  EXPECT_EQ(s.code, 0) << s.err;
}

TEST(CliSaliency, EvalScoresSaliencyMethodsAndMatchesCfxSaliency) {
  auto dir = cfx::testing::temp_dir("cli_sal_eval");
  const std::string m = " --model " + shipped_model("shapes-cnn.pt") + " --data shapes --n 4 ";
  auto r = run_cfx("eval -q" + m + "--methods fido,gradient --set fido.infill=blur " +
                   "--set fido.steps=40 --sanity --curve-steps 8 --seed 5 --out " + dir + "/e");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("pointing"), std::string::npos) << r.out;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/e/eval.json"));
  ASSERT_EQ(j["methods"].size(), 2u);
  for (const auto& meth : j["methods"]) {
    EXPECT_EQ(meth["kind"], "saliency");
    for (const char* k : {"deletion_auc", "insertion_auc", "pointing_game", "iou", "box_iou",
                          "loc_error", "saliency_metric", "sanity_rank_corr", "seconds"})
      EXPECT_TRUE(meth["summary"].contains(k)) << meth["method"] << " lacks " << k;
    EXPECT_EQ(meth["summary"]["loc_error"]["interval"], "wilson");
  }
  auto item = nlohmann::json::parse(cfx::read_file(dir + "/e/fido/result.json"))["items"][0];
  EXPECT_EQ(item["deletion_curve"].size(), 9u);
  // The same item, seed and options through cfx saliency give the same map.
  auto s = run_cfx("saliency -q" + m + "--set infill=blur --steps 40 --seed 5 --out " + dir + "/s");
  ASSERT_EQ(s.code, 0) << s.err;
  auto a = cfx::read_npy(dir + "/e/fido/maps/0000_saliency.npy");
  auto b = cfx::read_npy(dir + "/s/maps/0000_saliency.npy");
  EXPECT_TRUE(torch::equal(a, b));
}
