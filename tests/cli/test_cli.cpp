// The cfx binary end to end on the shipped models.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cfx/core/fs.h"
#include "cfx/data/image_io.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using cfx::testing::run_cfx;
using cfx::testing::shipped_model;
namespace fs = std::filesystem;

TEST(Cli, HelpShowsCommandsAndDefaults) {
  auto r = run_cfx("--help");
  EXPECT_EQ(r.code, 0);
  for (auto cmd : {"explain", "info", "methods", "train"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  auto e = run_cfx("explain --help");
  EXPECT_EQ(e.code, 0);
  EXPECT_NE(e.out.find("--target"), std::string::npos);
  EXPECT_NE(e.out.find("pixel"), std::string::npos);  // default method is shown
}

TEST(Cli, MethodsListsPixelWithDescription) {
  auto r = run_cfx("methods");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("pixel"), std::string::npos);
  EXPECT_NE(r.out.find("counterfactual"), std::string::npos);
  auto j = nlohmann::json::parse(run_cfx("methods --json").out);
  EXPECT_EQ(j[0]["name"], "pixel");
  EXPECT_TRUE(j[0]["defaults"].contains("steps"));
}

TEST(Cli, InfoListsShapeClassesAndBnLayers) {
  auto r = run_cfx("info " + shipped_model("fashion-mnist-cnn.pt"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("[1, 28, 28]"), std::string::npos);
  EXPECT_NE(r.out.find("Ankle boot"), std::string::npos);
  EXPECT_NE(r.out.find("bn4"), std::string::npos);
  auto j =
      nlohmann::json::parse(run_cfx("info --json " + shipped_model("fashion-mnist-cnn.pt")).out);
  EXPECT_EQ(j["bn_layers"].size(), 4u);
  EXPECT_GT(j["parameters"].get<int64_t>(), 10000);
}

TEST(Cli, ExplainWritesResultJsonAndImages) {
  auto dir = cfx::testing::temp_dir("cli_explain");
  auto r = run_cfx("explain -q --model " + shipped_model("fashion-mnist-cnn.pt") +
                   " --data fashion-mnist --split test --n 8 --target auto --out " + dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/result.json"));
  EXPECT_EQ(j["schema_version"], 1);
  ASSERT_EQ(j["items"].size(), 8u);
  for (const auto& item : j["items"]) {
    for (auto key : {"input", "original_class", "original_prob", "target_class",
                     "counterfactual_class", "target_prob", "valid", "l1", "l2", "l0", "steps",
                     "seconds", "original", "counterfactual", "diff"})
      EXPECT_TRUE(item.contains(key)) << key;
    EXPECT_NE(item["target_class"], item["original_class"]);  // auto = runner-up
    EXPECT_TRUE(fs::exists(dir + "/" + item["counterfactual"].get<std::string>()));
    EXPECT_TRUE(fs::exists(dir + "/" + item["diff"].get<std::string>()));
    EXPECT_TRUE(item["target_class_name"].is_string());
  }
  EXPECT_GE(j["summary"]["validity"].get<double>(), 0.9);
  // Each summary value comes with its 95% interval: Wilson for rates (8 of 8 valid is
  // [0.676, 1], not the normal approximation's [1, 1]), bounds inside the metric's range.
  const auto& ci = j["summary"]["intervals"];
  for (auto key : {"validity", "converged", "target_prob", "l1", "l2", "l0"}) {
    ASSERT_TRUE(ci.contains(key)) << key;
    EXPECT_EQ(ci[key]["n"], 8) << key;
    EXPECT_LE(ci[key]["lo"].get<double>(), ci[key]["mean"].get<double>()) << key;
    EXPECT_GE(ci[key]["hi"].get<double>(), ci[key]["mean"].get<double>()) << key;
    EXPECT_GE(ci[key]["lo"].get<double>(), 0.0) << key;
    EXPECT_LE(ci[key]["hi"].get<double>(), 1.0) << key;
  }
  EXPECT_EQ(ci["validity"]["interval"], "wilson");
  EXPECT_DOUBLE_EQ(ci["validity"]["mean"].get<double>(), j["summary"]["validity"].get<double>());
  if (ci["validity"]["mean"] == 1.0) EXPECT_NEAR(ci["validity"]["lo"].get<double>(), 0.676, 1e-3);
  EXPECT_EQ(j["config"]["method"], "pixel");
  // The report page comes with every run (its content: tests/report/).
  EXPECT_NE(r.out.find("wrote " + dir + "/report.html"), std::string::npos) << r.out;
  EXPECT_NE(cfx::read_file(dir + "/report.html").find("data:image/png;base64,"), std::string::npos);
}

TEST(Cli, ExplainIsDeterministic) {
  auto a = cfx::testing::temp_dir("cli_det_a"), b = cfx::testing::temp_dir("cli_det_b");
  std::string args = " --model " + shipped_model("fashion-mnist-cnn.pt") +
                     " --data fashion-mnist --n 3 --steps 40 -q --seed 7 --out ";
  ASSERT_EQ(run_cfx("explain" + args + a).code, 0);
  ASSERT_EQ(run_cfx("explain" + args + b).code, 0);
  for (int i = 0; i < 3; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "/images/%04d_counterfactual.png", i);
    EXPECT_EQ(cfx::read_file(a + name), cfx::read_file(b + name));
  }
}

TEST(Cli, ExplainSingleImageWithNamedTargetAndResize) {
  auto dir = cfx::testing::temp_dir("cli_single");
  // A 40x40 grey image: resized to 28x28 with a note.
  auto img = dir + "/query.png";
  cfx::write_png(img, torch::rand({1, 40, 40}) * 0.3);
  auto r = run_cfx("explain --model " + shipped_model("fashion-mnist-cnn.pt") + " --image " + img +
                   " --target Trouser --out " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resized"), std::string::npos);
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/out/result.json"));
  EXPECT_EQ(j["items"][0]["target_class"], 1);
  EXPECT_EQ(j["items"][0]["input"], img);
}

TEST(Cli, TrainWritesACheckpointThatInfoAndExplainRead) {
  auto dir = cfx::testing::temp_dir("cli_train");
  auto model = dir + "/shapes-cnn.pt";
  auto r = run_cfx(
      "train classifier -q --data shapes --shapes-size 16 --limit 1000 --arch cnn "
      "--width 8 --epochs 4 --batch-size 32 --lr 5e-3 --seed 4 --out " +
      model);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("test accuracy"), std::string::npos);
  auto side = nlohmann::json::parse(cfx::read_file(dir + "/shapes-cnn.json"));
  EXPECT_EQ(side["format"], "cfx-checkpoint");
  EXPECT_EQ(side["arch"], "cnn");
  EXPECT_EQ(side["seed"], 4);
  EXPECT_EQ(side["input_shape"], nlohmann::json({3, 16, 16}));
  EXPECT_EQ(side["classes"], nlohmann::json({"circle", "square", "triangle"}));
  EXPECT_NE(side["command"].get<std::string>().find("--seed 4"), std::string::npos);
  // Well above chance (1/3) after four short epochs on 1000 items (0.61 when written).
  EXPECT_GT(side["training"]["test_accuracy"].get<double>(), 0.45);

  auto info = run_cfx("info " + model);
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_NE(info.out.find("batch-norm layers (4)"), std::string::npos);

  auto ex = run_cfx("explain -q --model " + model + " --data shapes --n 4 --steps 50 --out " + dir +
                    "/out");
  ASSERT_EQ(ex.code, 0) << ex.err;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/out/result.json"));
  EXPECT_EQ(j["items"].size(), 4u);
  EXPECT_EQ(j["items"][0]["input"], "shapes:test:0");
}

TEST(Cli, TrainWithHeadsRecordsThemAndInfoShowsThem) {
  auto dir = cfx::testing::temp_dir("cli_train_heads");
  auto base = dir + "/base.pt", duq = dir + "/duq.pt";
  const std::string common =
      "train classifier -q --data shapes --shapes-size 16 --limit 300 --arch cnn --width 4 "
      "--epochs 1 --batch-size 32 --seed 5 ";
  auto r = run_cfx(common + "--head loss --blur 0.5 --out " + base);
  ASSERT_EQ(r.code, 0) << r.err;
  auto side = nlohmann::json::parse(cfx::read_file(dir + "/base.json"));
  EXPECT_EQ(side["head"], "loss");
  EXPECT_EQ(side["train_options"]["blur"], 0.5);
  EXPECT_EQ(side["arch_options"]["head"], "loss");
  EXPECT_TRUE(side["train_options"].contains("loss_margin"));
  EXPECT_TRUE(side["training"]["head"].contains("loss_rank_correlation"));
  auto info = run_cfx("info " + base);
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_NE(info.out.find("heads:        [\"loss\"]"), std::string::npos) << info.out;

  // A DUQ head started from the loss model's weights (the head itself is not carried over).
  r = run_cfx(common + "--head duq --duq-gp-every 2 --init " + base + " --out " + duq);
  ASSERT_EQ(r.code, 0) << r.err;
  side = nlohmann::json::parse(cfx::read_file(dir + "/duq.json"));
  EXPECT_EQ(side["head"], "duq");
  EXPECT_EQ(side["init"], base);
  EXPECT_EQ(side["train_options"]["duq_gp_every"], 2);
  auto j = nlohmann::json::parse(run_cfx("info --json " + duq).out);
  EXPECT_EQ(j["heads"], nlohmann::json({"duq"}));
  // Its uncertainty report, per epoch: DUQ's certainty and the softmax's against the
  // classifier's mistakes, and against "out-of-distribution" images that here are the test
  // split itself, which no score can separate from itself (AUROC exactly 0.5).
  auto ood = dir + "/duq-ood.pt";
  auto two_epochs = common;
  two_epochs.replace(two_epochs.find("--epochs 1"), 10, "--epochs 2");
  r = run_cfx(two_epochs + "--head duq --init " + base + " --ood-data shapes --out " + ood);
  ASSERT_EQ(r.code, 0) << r.err;
  side = nlohmann::json::parse(cfx::read_file(dir + "/duq-ood.json"));
  const auto& h = side["training"]["head"];
  for (auto k : {"duq_auroc_errors", "softmax_auroc_errors"}) {
    ASSERT_TRUE(h[k].is_number()) << h.dump();
    EXPECT_GE(h[k].get<double>(), 0.0);
    EXPECT_LE(h[k].get<double>(), 1.0);
  }
  EXPECT_EQ(h["duq_auroc_ood"], 0.5);
  EXPECT_EQ(h["softmax_auroc_ood"], 0.5);
  EXPECT_EQ(h["ood_data"], "shapes");
  ASSERT_EQ(side["training"]["epochs"].size(), 2u);
  auto last = h;
  last.erase("ood_data");
  EXPECT_EQ(side["training"]["epochs"][1]["head"], last);
  EXPECT_TRUE(side["training"]["epochs"][0]["head"].contains("duq_auroc_ood"));
  expect_user_error(run_cfx(common + "--head duq --ood-data mnist --out " + dir + "/bad.pt"),
                    "--ood-data mnist has images of shape");
  expect_user_error(run_cfx(common + "--head loss --ood-data shapes --out " + dir + "/bad.pt"),
                    "needs --head duq");
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.pt"));

  // A loss head trained alone beside the duq model's classifier: the classifier is unchanged.
  auto head_only = dir + "/head-only.pt";
  r = run_cfx(common + "--head loss --head-only --loss-perturbed 0.5 --init " + duq + " --out " +
              head_only);
  ASSERT_EQ(r.code, 0) << r.err;
  side = nlohmann::json::parse(cfx::read_file(dir + "/head-only.json"));
  EXPECT_EQ(side["train_options"]["head_only"], true);
  EXPECT_EQ(side["train_options"]["loss_perturbed"], 0.5);
  EXPECT_TRUE(side["training"]["head"].contains("loss_rank_correlation_perturbed"));
  auto before = nlohmann::json::parse(cfx::read_file(dir + "/duq.json"));
  EXPECT_EQ(side["training"]["test_accuracy"], before["training"]["test_accuracy"]);

  expect_user_error(run_cfx(common + "--head rbf --out " + dir + "/bad.pt"), "'rbf'");
  expect_user_error(run_cfx(common + "--head-only --out " + dir + "/bad.pt"), "--head-only");
  expect_user_error(run_cfx(common + "--head loss --loss-perturbed 9 --out " + dir + "/bad.pt"),
                    "loss_perturbed");
  expect_user_error(run_cfx(common + "--blur 5 --out " + dir + "/bad.pt"), "invalid blur: 5");
  expect_user_error(run_cfx(common + "--blur 1 --no-augment --out " + dir + "/bad.pt"),
                    "needs augment");
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.pt"));
  auto help = run_cfx("train classifier --help");
  EXPECT_NE(help.out.find("--head"), std::string::npos);
  EXPECT_NE(help.out.find("linear"), std::string::npos);
}

TEST(Cli, ExplainReadsAFolderOfImages) {
  auto dir = cfx::testing::temp_dir("cli_folder");
  fs::create_directories(dir + "/in");
  for (int i = 0; i < 3; ++i)
    cfx::write_png(dir + "/in/img" + std::to_string(i) + ".png", torch::rand({1, 28, 28}));
  auto r = run_cfx("explain -q --model " + shipped_model("fashion-mnist-cnn.pt") + " --images " +
                   dir + "/in --steps 30 --out " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/out/result.json"));
  ASSERT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["items"][2]["input"], dir + "/in/img2.png");
}

TEST(Cli, ThreadsFlagSetsTheCountAndSaysIt) {
  auto r = run_cfx("--threads 2 info " + shipped_model("fashion-mnist-cnn.pt"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("threads:      2 threads (as asked"), std::string::npos) << r.out;
  // After the subcommand too, and as JSON.
  auto j = nlohmann::json::parse(
      run_cfx("info --json --threads 1 " + shipped_model("fashion-mnist-cnn.pt")).out);
  EXPECT_EQ(j["threads"], 1);
  expect_user_error(run_cfx("--threads -1 info " + shipped_model("fashion-mnist-cnn.pt")),
                    "--threads");
  expect_user_error(run_cfx("--threads lots info " + shipped_model("fashion-mnist-cnn.pt")),
                    "--threads");
  auto dir = cfx::testing::temp_dir("cli_threads");
  r = run_cfx("explain -q --threads 2 --model " + shipped_model("fashion-mnist-cnn.pt") +
              " --data fashion-mnist --n 2 --steps 5 --out " + dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(cfx::read_file(dir + "/result.json"))["run"]["threads"], 2);
}

// Without a terminal the bar prints a line per tenth of the work: a single batch of a few
// items already gives several lines, with the item count and the time left.
TEST(Cli, ProgressMovesInsideABatch) {
  auto dir = cfx::testing::temp_dir("cli_progress");
  auto r = run_cfx("explain --model " + shipped_model("fashion-mnist-cnn.pt") +
                   " --data fashion-mnist --n 4 --batch-size 4 --method dip --out " + dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto bar = cfx::testing::progress_lines(r.err, "dip");
  bool eta = false, items = false;
  for (const auto& line : bar.lines) {
    eta = eta || line.find(" eta ") != std::string::npos;
    items = items || line.find("/4 items") != std::string::npos;
  }
  EXPECT_GE(bar.partial, 3) << r.err;
  EXPECT_TRUE(eta) << r.err;
  EXPECT_TRUE(items) << r.err;
}

// --targets FILE: per-item targets by input name, as CSV or JSON; every item needs one, and
// every entry must name an item.
TEST(Cli, TargetsFileGivesEachItemItsTarget) {
  auto dir = cfx::testing::temp_dir("cli_targets");
  const std::string m = "explain --model " + shipped_model("fashion-mnist-cnn.pt") +
                        " --method pixel --steps 5 --data fashion-mnist --n 3 ";
  cfx::write_atomic(dir + "/t.csv",
                    "input,target\nfashion-mnist:test:2, 7\nfashion-mnist:test:0,Bag\n"
                    "fashion-mnist:test:1,1\n");
  auto r = run_cfx(m + "--targets " + dir + "/t.csv --out " + dir + "/csv");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/csv/result.json"));
  EXPECT_EQ(j["items"][0]["target_class"], 8);  // Bag
  EXPECT_EQ(j["items"][1]["target_class"], 1);
  EXPECT_EQ(j["items"][2]["target_class"], 7);
  EXPECT_EQ(j["run"]["targets_file"], dir + "/t.csv");

  // JSON, and images in a folder named by their file names.
  std::filesystem::create_directories(dir + "/imgs");
  for (auto name : {"a.png", "b.png"})
    cfx::write_png(dir + "/imgs/" + name, torch::rand({1, 28, 28}));
  cfx::write_atomic(dir + "/t.json", R"({"b.png": "pred", "a.png": 3})");
  r = run_cfx("explain --model " + shipped_model("fashion-mnist-cnn.pt") +
              " --method pixel --steps 5 --images " + dir + "/imgs --targets " + dir +
              "/t.json --out " + dir + "/json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(cfx::read_file(dir + "/json/result.json"));
  EXPECT_EQ(j["items"][0]["target_class"], 3);
  EXPECT_EQ(j["items"][1]["target_class"], j["items"][1]["original_class"]);

  cfx::write_atomic(dir + "/short.csv", "fashion-mnist:test:0,1\n");
  expect_user_error(run_cfx(m + "--targets " + dir + "/short.csv --out " + dir + "/x"),
                    "no target for item 'fashion-mnist:test:1'");
  cfx::write_atomic(dir + "/typo.csv",
                    "fashion-mnist:test:0,1\nfashion-mnist:test:1,1\nfashion-mnist:tset:2,1\n");
  expect_user_error(run_cfx(m + "--targets " + dir + "/typo.csv --out " + dir + "/x"),
                    "'fashion-mnist:tset:2', which is no item");
  cfx::write_atomic(
      dir + "/bad.csv",
      "fashion-mnist:test:0,1\nfashion-mnist:test:1,Banana\nfashion-mnist:test:2,1\n");
  expect_user_error(run_cfx(m + "--targets " + dir + "/bad.csv --out " + dir + "/x"),
                    "Banana' of item 1");
  expect_user_error(run_cfx(m + "--targets " + dir + "/none.csv --out " + dir + "/x"), "none.csv");
  expect_user_error(run_cfx(m + "--targets " + dir + "/t.csv --target 1 --out " + dir + "/x"),
                    "--target");
}
