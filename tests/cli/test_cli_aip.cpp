// AIP from the command line: `cfx explain --method aip` with the shipped cvae found beside the
// model, `cfx train cvae` end to end, and its user errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cfx/core/fs.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using cfx::testing::expect_user_error;
using cfx::testing::run_cfx;
using cfx::testing::shipped_model;
namespace fs = std::filesystem;
using nlohmann::json;

TEST(CliAip, ExplainReportsAttributeChangesBesideTheReconstruction) {
  auto out = cfx::testing::temp_dir("cli_aip_explain");
  auto r = run_cfx("explain -q --model " + shipped_model("shapes-cnn.pt") +
                   " --method aip --data shapes --split test --n 6 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(cfx::read_file(out + "/result.json"));
  EXPECT_EQ(j["config"]["method"], "aip");
  EXPECT_NE(j["config"]["options"]["cvae"].get<std::string>().find("shapes-cvae.pt"),
            std::string::npos);
  EXPECT_NE(j["config"]["options"]["attributes"].get<std::string>().find("shapes-attributes.pt"),
            std::string::npos);
  ASSERT_EQ(j["items"].size(), 6u);
  int valid = 0;
  for (const auto& it : j["items"]) {
    ASSERT_EQ(it["attribute_changes"].size(), 11u);
    EXPECT_TRUE(fs::exists(fs::path(out) / it["reconstruction"].get<std::string>()));
    EXPECT_LT(it["reconstruction_error"].get<double>(), 0.05);
    // Sorted by size of change, and the summary names the largest one when it is large enough.
    const auto& first = it["attribute_changes"][0];
    EXPECT_GE(std::abs(first["change"].get<double>()),
              std::abs(it["attribute_changes"][1]["change"].get<double>()));
    EXPECT_NEAR(first["after"].get<double>() - first["before"].get<double>(),
                first["change"].get<double>(), 1e-6);
    if (std::abs(first["change"].get<double>()) >= 0.05)
      EXPECT_EQ(it["attribute_summary"].get<std::string>().rfind(first["attribute"], 0), 0u)
          << it["attribute_summary"];
    valid += it["valid"].get<bool>();
  }
  // The class is the shape, which the cvae takes as an attribute: most items reach the target.
  EXPECT_GE(valid, 5) << r.out;
  EXPECT_TRUE(fs::exists(out + "/report.html"));
}

// MNIST's height is constant (digits are scaled to a 20-pixel box), so the cvae never saw its
// code change; free, the search moves it and names it in 39 of 100 explanations
// (docs/claims-aip.md). `edit` naming the other four (as latent's `edit`) keeps it at D's
// reading; a name D lacks is a user error.
TEST(CliAip, AttributesLeftOutOfEditStayOutOfTheExplanation) {
  auto out = cfx::testing::temp_dir("cli_aip_edit");
  const std::string base = "explain -q --model " + shipped_model("mnist-cnn.pt") +
                           " --method aip --data mnist --split test --n 12 --out ";
  auto free = run_cfx(base + out + "/free");
  ASSERT_EQ(free.code, 0) << free.err;
  auto r = run_cfx(base + out + "/held --set edit=area,thickness,slant,width");
  ASSERT_EQ(r.code, 0) << r.err;
  auto height_moves = [](const json& j) {
    int moved = 0;
    for (const auto& it : j["items"])
      for (const auto& c : it["attribute_changes"])
        if (c["attribute"] == "height" && c["change"].get<double>() != 0) ++moved;
    return moved;
  };
  auto jf = json::parse(cfx::read_file(out + "/free/result.json"));
  auto j = json::parse(cfx::read_file(out + "/held/result.json"));
  EXPECT_GT(height_moves(jf), 0);  // the test shows something: free, height does move
  EXPECT_EQ(height_moves(j), 0);
  EXPECT_EQ(j["config"]["options"]["edit"], "area,thickness,slant,width");
  int valid = 0;
  for (const auto& it : j["items"]) valid += it["valid"].get<bool>();
  EXPECT_GE(valid, 11);
  auto bad = run_cfx(base + out + "/bad --set edit=area,heigth");
  expect_user_error(bad, "aip option edit = 'area,heigth': unknown attribute 'heigth'");
  expect_user_error(bad, "knows: area, thickness, slant, width, height");
  expect_user_error(run_cfx(base + out + "/bad --set edit=area,area"), "listed twice");
  EXPECT_FALSE(fs::exists(out + "/bad/result.json"));
}

// Stopping further from F's boundary convinces the independent oracle more often
// (docs/claims-aip.md, "Stopping further from F's boundary"): AIP at confidence 0.99 against
// the paper's first valid step (0.5) on the first 20 MNIST test items, towards the runner-up.
// Measured on 300 items with the shipped 12-epoch cvae: 124 items gained, 0 lost; on these 20:
// 10 gained, 0 lost (with the 3-epoch cvae shipped until 2026-12-05: 101 / 3 and 8 / 0). Every
// item still valid, and each converged item reaches the confidence asked for.
TEST(CliAip, AHigherConfidenceConvincesTheOracleMoreOften) {
  auto out = cfx::testing::temp_dir("cli_aip_confidence");
  std::map<std::string, json> items;
  for (const std::string c : {"0.5", "0.99"}) {
    auto r = run_cfx("eval -q --model " + shipped_model("mnist-cnn.pt") +
                     " --data mnist --split test --n 20 --methods aip --set confidence=" + c +
                     " --oracle " + shipped_model("mnist-oracle-resnet.pt") +
                     " --cout-steps 0 --fid-net none --seed 1 --out " + out + "/c" + c);
    ASSERT_EQ(r.code, 0) << r.err;
    items[c] = json::parse(cfx::read_file(out + "/c" + c + "/aip/result.json"))["items"];
    ASSERT_EQ(items[c].size(), 20u);
  }
  int gained = 0, lost = 0;
  for (int i = 0; i < 20; ++i) {
    const auto &low = items["0.5"][i], &high = items["0.99"][i];
    EXPECT_EQ(high["valid"], true) << i;
    if (high["converged"].get<bool>())
      EXPECT_GE(high["target_prob"].get<double>(), 0.99 - 1e-3) << i;
    gained += high["oracle_validity"] == 1 && low["oracle_validity"] == 0;
    lost += high["oracle_validity"] == 0 && low["oracle_validity"] == 1;
  }
  EXPECT_GE(gained, 4);
  EXPECT_LE(lost, 1);
}

TEST(CliAip, TrainCvaeEndToEndAndBadInputs) {
  auto dir = cfx::testing::temp_dir("cli_aip_train");
  auto r = run_cfx(
      "train cvae -q --data shapes --limit 300 --epochs 1 --latent 4 --width 8 "
      "--attributes " +
      shipped_model("shapes-attributes.pt") + " --seed 3 --out " + dir + "/c.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  auto s = json::parse(cfx::read_file(dir + "/c.json"));
  EXPECT_EQ(s["kind"], "cvae");
  EXPECT_EQ(s["attribute_names"].size(), 11u);
  EXPECT_TRUE(s["training"]["attribute_control"].contains("changed_per_attribute"));
  // Relative to the cvae's folder.
  EXPECT_TRUE(fs::path(s["attributes"].get<std::string>()).is_relative());
  for (const char* k : {"rate", "mean_other_flips"}) {
    auto v = s["training"]["leakage"][k].get<double>();
    EXPECT_TRUE(v >= 0 && v <= 11) << k << " " << v;
  }
  EXPECT_LE(s["training"]["fractional_error"].get<double>(), 1.0);
  EXPECT_FALSE(s["training"].contains("z_adversary_accuracy"));  // no adversary asked for
  // On shapes the edits are also read from their pixels.
  EXPECT_GE(s["training"]["by_pixels"]["reader_agreement_on_real"].get<double>(), 0.99);

  // Fine-tuning it with the disentangling terms keeps its architecture and says where it began.
  r = run_cfx("train cvae -q --data shapes --limit 100 --epochs 1 --batch-size 16 --init " + dir +
              "/c.pt --single 0.5 --fractional 0.5 --adversary 1 --realism 100 --critic-lr 0.004 "
              "--attributes " +
              shipped_model("shapes-attributes.pt") + " --seed 3 --out " + dir + "/f.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  auto f = json::parse(cfx::read_file(dir + "/f.json"));
  EXPECT_EQ(f["arch_options"], s["arch_options"]);
  EXPECT_EQ(f["init"], "c.pt");
  EXPECT_EQ(f["train_options"]["fractional"], 0.5);
  auto acc = f["training"]["z_adversary_accuracy"].get<double>();
  EXPECT_TRUE(acc >= 0 && acc <= 1) << acc;
  EXPECT_EQ(f["train_options"]["realism"], 100);
  EXPECT_EQ(f["train_options"]["critic_lr"], 0.004);
  acc = f["training"]["discriminator_accuracy"].get<double>();
  EXPECT_TRUE(acc >= 0 && acc <= 1) << acc;
  EXPECT_GT(f["training"]["sharpness"].get<double>(), 0);
  EXPECT_FALSE(s["training"].contains("discriminator_accuracy"));
  const std::string tune = "train cvae -q --data shapes --limit 50 --attributes " +
                           shipped_model("shapes-attributes.pt") + " --out " + dir + "/y.pt";
  expect_user_error(run_cfx(tune + " --single 1.5"), "single");
  expect_user_error(run_cfx(tune + " --adversary -1"), "adversary");
  expect_user_error(run_cfx(tune + " --realism -1"), "realism");
  expect_user_error(run_cfx(tune + " --critic-lr -1"), "critic_lr");
  expect_user_error(run_cfx(tune + " --init " + shipped_model("shapes-vae.pt")), "not a cvae");
  expect_user_error(run_cfx(tune + " --init " + shipped_model("mnist-cvae.pt")),
                    "other attributes");
  r = run_cfx("explain -q --model " + shipped_model("shapes-cnn.pt") +
              " --method aip --data shapes --n 2 --set steps=5 --set cvae=" + dir + "/c.pt --out " +
              dir + "/explain");
  ASSERT_EQ(r.code, 0) << r.err;

  const std::string base = "explain -q --model " + shipped_model("shapes-cnn.pt") +
                           " --method aip --data shapes --n 2 --out " + dir + "/bad";
  expect_user_error(run_cfx(base + " --set optimise=w"), "optimise");
  expect_user_error(run_cfx(base + " --set alpha=-1"), "alpha");
  // A cvae of another domain: mnist images for a shapes classifier.
  expect_user_error(run_cfx(base + " --set cvae=" + shipped_model("mnist-cvae.pt")),
                    "makes [1, 28, 28]");
  expect_user_error(run_cfx(base + " --set cvae=" + shipped_model("shapes-vae.pt")), "not a cvae");
  // An attribute classifier whose attribute names are not the cvae's conditions.
  expect_user_error(run_cfx(base + " --set attributes=" + shipped_model("mnist-attributes.pt")),
                    "does not have the attributes the cvae");
  expect_user_error(
      run_cfx("train cvae -q --data shapes --attributes " + shipped_model("mnist-attributes.pt") +
              " --limit 50 --out " + dir + "/x.pt"),
      "dataset images are");
}

// `--epochs 0 --init F` measures a cvae without training it. On shapes the report reads the
// edits from their pixels too (data/shapes_reader.h): the shipped cvae draws the background it
// is asked for, which D alone cannot show (a cvae can fool D with a corner stamp instead,
// docs/models.md).
TEST(CliAip, MeasuringAShapesCvaeReadsItsEditsFromPixels) {
  auto dir = cfx::testing::temp_dir("cli_aip_measure");
  const std::string base = "train cvae -q --data shapes --limit 50 --attributes " +
                           shipped_model("shapes-attributes.pt") + " --epochs 0";
  auto r = run_cfx(base + " --init " + shipped_model("shapes-cvae.pt") + " --out " + dir + "/m.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  auto t = json::parse(cfx::read_file(dir + "/m.json"))["training"];
  EXPECT_TRUE(t["train_loss"].is_null());
  EXPECT_TRUE(t["curve"].empty());
  const auto& px = t["by_pixels"];
  EXPECT_GE(px["reader_agreement_on_real"].get<double>(), 0.99) << px;
  const auto& per = px["attribute_control"]["changed_per_attribute"];
  EXPECT_GE(per["light_background"].get<double>(), 0.95) << px;
  for (const char* k : {"red", "green", "blue"}) EXPECT_GE(per[k].get<double>(), 0.9) << k;
  EXPECT_LE(px["leakage"]["mean_other_flips"].get<double>(), 11.0);
  // Its squares and triangles have rounder corners than the renderer's (measured 2026-12-03:
  // real 1.01, reconstructions 0.54, edits to a polygon 0.37, on n 1345 / 1345 / 427).
  const auto& poly = px["polygon_strength"];
  EXPECT_GE(poly["real"]["mean"].get<double>(), 0.95) << poly;
  EXPECT_LT(poly["reconstructions"]["mean"].get<double>(), 0.8) << poly;
  EXPECT_LT(poly["edits_to_polygon"]["mean"].get<double>(), 0.8) << poly;
  EXPECT_GT(poly["edits_to_polygon"]["n"].get<int64_t>(), 100) << poly;
  expect_user_error(run_cfx(base + " --out " + dir + "/x.pt"), "--epochs 0 only measures a cvae");
}

// `--paired` (shapes only): G's edits are also trained against the renderer's true edit of the
// image; the curve says how many requests had one. `--corners` (shapes only) and `--edges`
// record their terms in the curve; `--posterior-noise` is kept in the options. `--decoder
// broadcast` and `--supersample` are kept in the checkpoint's architecture. Elsewhere, one error
// line.
TEST(CliAip, PairedEditsAndTheBroadcastDecoder) {
  auto dir = cfx::testing::temp_dir("cli_aip_paired");
  const std::string base = "train cvae -q --attributes " + shipped_model("shapes-attributes.pt") +
                           " --limit 200 --latent 4 --width 8 --batch-size 16 --seed 2";
  auto r = run_cfx(base + " --data shapes --epochs 1 --single 0.5 --paired 1 --corners 1" +
                   " --edges 1 --posterior-noise 0.5 --decoder broadcast --out " + dir + "/p.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  auto s = json::parse(cfx::read_file(dir + "/p.json"));
  EXPECT_EQ(s["train_options"]["paired"], 1.0);
  EXPECT_EQ(s["arch_options"]["decoder"], "broadcast");
  const auto& point = s["training"]["curve"].at(0);
  EXPECT_GT(point["paired"].get<double>(), 0.0) << point;
  // Every 0/1 request with one shape and one colour has a true edit.
  EXPECT_GE(point["paired_share"].get<double>(), 0.99) << point;
  EXPECT_EQ(s["train_options"]["corners"], 1.0);
  EXPECT_GT(point["corners"].get<double>(), 0.0) << point;
  EXPECT_EQ(s["train_options"]["edges"], 1.0);
  EXPECT_GT(point["edges"].get<double>(), 0.0) << point;
  EXPECT_EQ(s["train_options"]["posterior_noise"], 0.5);
  const auto& recon = s["training"]["by_pixels"]["reconstruction_agreement"];
  EXPECT_TRUE(recon["all"].get<double>() >= 0 && recon["all"].get<double>() <= 1) << recon;
  expect_user_error(
      run_cfx("train cvae -q --data mnist --limit 50 --epochs 1 --paired 1 --out " + dir + "/m.pt"),
      "--paired needs --data shapes");
  expect_user_error(run_cfx("train cvae -q --data mnist --limit 50 --epochs 1 --corners 1 --out " +
                            dir + "/m.pt"),
                    "--corners needs --data shapes");
  expect_user_error(run_cfx(base + " --data shapes --paired -1 --out " + dir + "/x.pt"), "paired");
  expect_user_error(run_cfx(base + " --data shapes --edges -1 --out " + dir + "/x.pt"), "edges");
  expect_user_error(run_cfx(base + " --data shapes --posterior-noise 2 --out " + dir + "/x.pt"),
                    "invalid posterior_noise: 2");
  expect_user_error(run_cfx(base + " --data shapes --decoder bogus --out " + dir + "/x.pt"),
                    "invalid decoder: 'bogus'");
  // `--supersample` reaches the architecture (the broadcast decoder draws at 2x and
  // box-averages; `train vae` and `train cvae` share the option, and the plain VAE is the
  // cheaper to train); with the upsampling decoder it is refused by name.
  r = run_cfx("train vae -q --data shapes --limit 32 --latent 4 --width 8 --batch-size 16" +
              std::string(" --epochs 1 --decoder broadcast --supersample 2 --out ") + dir +
              "/s.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(cfx::read_file(dir + "/s.json"))["arch_options"]["supersample"], 2);
  expect_user_error(run_cfx(base + " --data shapes --supersample 2 --out " + dir + "/x.pt"),
                    "only the broadcast decoder");
  EXPECT_FALSE(fs::exists(dir + "/x.pt"));
}
