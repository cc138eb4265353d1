// Latent-space counterfactuals and global causal scores from the command line: `cfx explain
// --method latent`, `cfx global`, and `cfx train vae | attributes | shifter` end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cfx/core/fs.h"
#include "cfx/data/image_io.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using cfx::testing::expect_user_error;
using cfx::testing::run_cfx;
using cfx::testing::shipped_model;
namespace fs = std::filesystem;
using nlohmann::json;

// No --set shifter: the shipped shapes-shifter.pt beside the model is found, and with it the
// generator and attribute classifier it was trained with.
// search_steps=0: the paper's method alone, without the refinement.
TEST(CliLatent, ExplainWritesOneEditPerAttributeAndChoosesTheBest) {
  auto out = cfx::testing::temp_dir("cli_latent_explain");
  auto r = run_cfx("explain -q --model " + shipped_model("shapes-cnn.pt") +
                   " --method latent --data shapes --split test --n 6 --set search_steps=0 --out " +
                   out);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(cfx::read_file(out + "/result.json"));
  EXPECT_EQ(j["config"]["method"], "latent");
  EXPECT_NE(j["config"]["options"]["generator"].get<std::string>().find("shapes-vae.pt"),
            std::string::npos);
  ASSERT_EQ(j["items"].size(), 6u);
  int valid = 0;
  for (const auto& it : j["items"]) {
    ASSERT_EQ(it["attribute_edits"].size(), 11u);
    EXPECT_TRUE(fs::exists(fs::path(out) / it["edits"].get<std::string>()));
    EXPECT_TRUE(fs::exists(fs::path(out) / it["reconstruction"].get<std::string>()));
    EXPECT_LT(it["reconstruction_error"].get<double>(), 0.05);
    // The counterfactual is the chosen edit: same class and target probability.
    const json* chosen = nullptr;
    double best_valid_p = -1;
    for (const auto& e : it["attribute_edits"]) {
      if (e["attribute"] == it["chosen_edit"]) chosen = &e;
      if (e["class"] == it["target_class"])
        best_valid_p = std::max(best_valid_p, e["target_prob"].get<double>());
    }
    ASSERT_NE(chosen, nullptr);
    EXPECT_EQ((*chosen)["class"], it["counterfactual_class"]);
    EXPECT_NEAR((*chosen)["target_prob"].get<double>(), it["target_prob"].get<double>(), 1e-5);
    if (best_valid_p >= 0) {
      EXPECT_TRUE(it["valid"].get<bool>());
      EXPECT_NEAR(it["target_prob"].get<double>(), best_valid_p, 1e-6);
    }
    valid += it["valid"].get<bool>();
  }
  // The class is the shape, and the shifter can turn shapes on: most items reach the target.
  EXPECT_GE(valid, 4) << r.out;
  EXPECT_TRUE(fs::exists(out + "/report.html"));
}

// via=code: the same per-attribute edits in the cvae's attribute code (change a, keep z),
// which the cvae was trained to obey: D reads the requested state in most edits.
TEST(CliLatent, EditsThroughTheCvaeCode) {
  auto dir = cfx::testing::temp_dir("cli_latent_code");
  const std::string base = "explain -q --model " + shipped_model("shapes-cnn.pt") +
                           " --method latent --data shapes --split test --n 8 --set via=code";
  auto r = run_cfx(base + " --set search_steps=0 --out " + dir + "/paper");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(cfx::read_file(dir + "/paper/result.json"));
  EXPECT_EQ(j["config"]["options"]["via"], "code");
  EXPECT_NE(j["config"]["options"]["cvae"].get<std::string>().find("shapes-cvae.pt"),
            std::string::npos);
  int took = 0, edits = 0, valid = 0;
  for (const auto& it : j["items"]) {
    ASSERT_EQ(it["attribute_edits"].size(), 11u);
    for (const auto& e : it["attribute_edits"]) {
      const bool on = e["edit"] == "on";
      took += (e["attribute_prob_after"].get<double>() > 0.5) == on;
      ++edits;
    }
    valid += it["valid"].get<bool>();
  }
  EXPECT_GE(took, 0.8 * edits) << took << " of " << edits;
  r = run_cfx(base + " --out " + dir + "/refined");
  ASSERT_EQ(r.code, 0) << r.err;
  auto k = json::parse(cfx::read_file(dir + "/refined/result.json"));
  int refined_valid = 0;
  for (const auto& it : k["items"]) refined_valid += it["valid"].get<bool>();
  EXPECT_GE(refined_valid, valid);
  EXPECT_EQ(k["summary"]["routes"]["edit"], valid);
  expect_user_error(run_cfx(base + " --set via=pixels --out " + dir + "/bad"), "via = 'pixels'");
}

// The refinement (docs/methods.md): on MNIST, where one morphometric edit reaches the runner-up
// class for under half of the items, items whose best single edit misses search a request over
// every attribute, then the latent. Items a single edit reached are left exactly as the paper's
// method leaves them; the others say which route reached the target and with what request.
TEST(CliLatent, RefinementReachesTargetsThatSingleEditsMissAndSaysHow) {
  auto dir = cfx::testing::temp_dir("cli_latent_refine");
  const std::string base = "explain -q --model " + shipped_model("mnist-cnn.pt") +
                           " --method latent --data mnist --split test --n 12 --seed 1";
  auto run = [&](const std::string& name, const std::string& set) {
    auto r = run_cfx(base + set + " --out " + dir + "/" + name);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(cfx::read_file(dir + "/" + name + "/result.json"));
  };
  auto paper = run("paper", " --set search_steps=0");
  auto request = run("request", " --set search_latent=false");
  auto both = run("default", "");
  ASSERT_EQ(both["items"].size(), 12u);
  int paper_valid = 0, request_valid = 0, both_valid = 0, routes_seen[4] = {0, 0, 0, 0};
  const std::vector<std::string> names = {"edit", "request", "latent", "none"};
  for (size_t i = 0; i < 12; ++i) {
    const auto &p = paper["items"][i], &q = request["items"][i], &b = both["items"][i];
    paper_valid += p["valid"].get<bool>();
    request_valid += q["valid"].get<bool>();
    both_valid += b["valid"].get<bool>();
    EXPECT_EQ(p["route"], p["valid"].get<bool>() ? "edit" : "none") << i;
    EXPECT_NE(q["route"], "latent") << i;  // the request alone never moves w
    auto route = b["route"].get<std::string>();
    auto k = std::find(names.begin(), names.end(), route) - names.begin();
    ASSERT_LT(k, 4) << route;
    ++routes_seen[k];
    EXPECT_EQ(b["valid"].get<bool>(), route != "none") << i;
    if (p["valid"].get<bool>()) {  // a single edit reached it: exactly the paper's result
      EXPECT_EQ(route, "edit") << i;
      EXPECT_EQ(b["counterfactual_class"], p["counterfactual_class"]) << i;
      EXPECT_DOUBLE_EQ(b["target_prob"].get<double>(), p["target_prob"].get<double>()) << i;
    } else {
      EXPECT_NE(route, "edit") << i;
    }
    // The request is over A's attributes, in [-1, 1], and said in words.
    ASSERT_EQ(b["request"].size(), b["attribute_edits"].size());
    for (const auto& t : b["request"]) EXPECT_LE(std::abs(t.get<double>()), 1.0 + 1e-6);
    EXPECT_FALSE(b["request_summary"].get<std::string>().empty());
  }
  EXPECT_LT(paper_valid, 12) << "the test needs items a single edit cannot reach";
  EXPECT_GE(request_valid, paper_valid);
  EXPECT_GT(both_valid, paper_valid);
  EXPECT_GT(routes_seen[1] + routes_seen[2], 0);
  int counted = 0;
  for (size_t k = 0; k < 4; ++k) counted += both["summary"]["routes"][names[k]].get<int>();
  EXPECT_EQ(counted, 12);
  EXPECT_EQ(both["summary"]["routes"]["edit"], paper_valid);
  expect_user_error(run_cfx(base + " --set search_alpha=-1 --out " + dir + "/bad"), "search_alpha");
  expect_user_error(run_cfx(base + " --set search_steps=100001 --out " + dir + "/bad"),
                    "search_steps");
  EXPECT_FALSE(fs::exists(dir + "/bad/result.json"));
}

TEST(CliLatent, EditOptionRestrictsAttributesAndRejectsUnknownOnes) {
  auto out = cfx::testing::temp_dir("cli_latent_edit");
  const std::string base = "explain -q --model " + shipped_model("shapes-cnn.pt") +
                           " --method latent --data shapes --n 2 --out " + out;
  auto r = run_cfx(base + " --set edit=circle,square");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(cfx::read_file(out + "/result.json"));
  EXPECT_EQ(j["items"][0]["attribute_edits"].size(), 2u);
  expect_user_error(run_cfx(base + " --set edit=purple"),
                    "latent option edit = 'purple': unknown attribute 'purple'");
  expect_user_error(run_cfx(base + " --set strength=0"), "invalid strength");
}

TEST(CliLatent, GeneratorThatDoesNotFitTheClassifierIsAnError) {
  auto out = cfx::testing::temp_dir("cli_latent_mismatch");
  auto r = run_cfx("explain -q --model " + shipped_model("fashion-mnist-cnn.pt") +
                   " --method latent --data fashion-mnist --n 1 --set shifter=" +
                   shipped_model("shapes-shifter.pt") + " --out " + out);
  expect_user_error(r, "makes [3, 32, 32] images but the classifier");
  // A copy of the classifier with no <dataset>-shifter.pt beside it.
  for (const char* ext : {".pt", ".json"})
    fs::copy_file(shipped_model(std::string("fashion-mnist-cnn") + ext), out + "/alone" + ext,
                  fs::copy_options::overwrite_existing);
  r = run_cfx("explain -q --model " + out +
              "/alone.pt --method latent --data fashion-mnist --n 1 --out " + out);
  expect_user_error(r, "no shift predictor given");
}

// `cfx global` end to end on the shipped shape classifier: the files, the schema, one score
// per attribute with intervals that contain their estimates, intervention rates. (Whether the
// scores follow the rule is measured in docs/claims-latent.md: with the shipped shapes VAE
// they do not; the estimators themselves are checked against known scores in test_causal.)
TEST(CliLatent, GlobalWritesScoresChartAndReport) {
  auto out = cfx::testing::temp_dir("cli_global");
  auto r = run_cfx("global -q --model " + shipped_model("shapes-cnn.pt") +
                   " --outcome circle --samples 100 --bootstrap 100 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(cfx::read_file(out + "/global.json"));
  EXPECT_EQ(j["schema"], "cfx.global");
  EXPECT_EQ(j["config"]["latents"], "data");
  EXPECT_EQ(j["summary"]["samples"], 100);
  ASSERT_EQ(j["scores"].size(), 11u);
  for (const auto& s : j["scores"]) {
    for (const char* k :
         {"necessity", "sufficiency", "necessity_and_sufficiency", "contrastive_attribution"}) {
      const auto& v = s[k];
      if (v["estimate"].is_null()) continue;
      EXPECT_LE(v["lo"].get<double>(), v["estimate"].get<double>() + 1e-9) << s.dump();
      EXPECT_GE(v["hi"].get<double>(), v["estimate"].get<double>() - 1e-9) << s.dump();
    }
    EXPECT_GE(s["intervention_on_rate"].get<double>(), 0.0);
  }
  EXPECT_TRUE(fs::exists(out + "/global.png"));
  EXPECT_TRUE(fs::exists(out + "/report.html"));
  EXPECT_GT(j["summary"]["seconds_per_1000_samples"].get<double>(), 0);
  // Same seed, same numbers.
  auto out2 = cfx::testing::temp_dir("cli_global2");
  ASSERT_EQ(run_cfx("global -q --model " + shipped_model("shapes-cnn.pt") +
                    " --outcome circle --samples 100 --bootstrap 100 --out " + out2)
                .code,
            0);
  auto j2 = json::parse(cfx::read_file(out2 + "/global.json"));
  EXPECT_EQ(j["scores"], j2["scores"]);
}

TEST(CliLatent, GlobalBadInputs) {
  auto out = cfx::testing::temp_dir("cli_global_err");
  const std::string m = "global -q --model " + shipped_model("shapes-cnn.pt") + " --out " + out;
  expect_user_error(run_cfx(m + " --outcome hexagon"), "unknown outcome class 'hexagon'");
  expect_user_error(run_cfx(m + " --outcome 7"), "out of range");
  expect_user_error(run_cfx(m + " --outcome circle --only purple"), "unknown attribute");
  expect_user_error(run_cfx(m + " --outcome circle --samples 0"), "invalid samples");
  expect_user_error(run_cfx(m + " --outcome circle --generator " + out + "/none.pt"),
                    "generator file not found");
  // The MNIST VAE has the shapes VAE's latent size; the shapes shifter still refuses it.
  expect_user_error(run_cfx(m + " --outcome circle --generator " + shipped_model("mnist-vae.pt")),
                    "was trained for the generator");
  // Through a cvae's attribute code: no shift predictor, real images only, a cvae that fits.
  expect_user_error(run_cfx(m + " --outcome circle --via codes"), "invalid via 'codes'");
  expect_user_error(
      run_cfx(m + " --outcome circle --via code --shifter " + shipped_model("shapes-shifter.pt")),
      "remove shifter");
  expect_user_error(run_cfx(m + " --outcome circle --via code --latents prior"),
                    "latents must be data");
  expect_user_error(
      run_cfx(m + " --outcome circle --via code --generator " + shipped_model("mnist-cvae.pt")),
      "makes [1, 28, 28] images");
  // Several cvaes: no empty entry, and only via code.
  const std::string cvae = shipped_model("shapes-cvae.pt");
  expect_user_error(run_cfx(m + " --outcome circle --via code --generator " + cvae + ","),
                    "empty cvae path");
  expect_user_error(run_cfx(m + " --outcome circle --generator " + cvae + "," + cvae),
                    "taken via code only");
}

// `cfx global --generator oracle`: the true scores of the shipped shape classifier, printed
// and written; a classifier of another dataset, or learned models passed with it, are one
// error line each.
TEST(CliLatent, GlobalWithTheOracleGenerator) {
  auto out = cfx::testing::temp_dir("cli_global_oracle");
  auto r = run_cfx("global --model " + shipped_model("shapes-cnn.pt") +
                   " --generator oracle --outcome circle --samples 60 --bootstrap 50 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("latents of shapes:test (60 scenes)"), std::string::npos) << r.out;
  auto j = json::parse(cfx::read_file(out + "/global.json"));
  EXPECT_EQ(j["config"]["generator"], "oracle");
  EXPECT_EQ(j["scores"][0]["attribute"], "circle");
  EXPECT_GT(j["scores"][0]["necessity_and_sufficiency"]["estimate"].get<double>(), 0.9);
  const std::string m = "global -q --generator oracle --outcome 0 --samples 10 --out " + out;
  expect_user_error(run_cfx(m + " --model " + shipped_model("mnist-cnn.pt")),
                    "the oracle generator draws shapes images only");
  expect_user_error(run_cfx(m + " --model " + shipped_model("shapes-cnn.pt") + " --shifter " +
                            shipped_model("shapes-shifter.pt")),
                    "takes no shifter");
  expect_user_error(run_cfx(m + " --model " + shipped_model("shapes-cnn.pt") + " --reference x"),
                    "invalid reference 'x'");
}

// The three trainers end to end on tiny budgets; the generator learns from the test split (data
// the classifier never saw), and the shifter's sidecar finds its models relative to itself.
TEST(CliLatent, TrainVaeAttributesShifterThenExplain) {
  auto dir = cfx::testing::temp_dir("cli_latent_train");
  auto r = run_cfx(
      "train vae -q --data shapes --split test --limit 300 --epochs 1 --latent 8 "
      "--width 8 --seed 1 --out " +
      dir + "/vae.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  auto vae = json::parse(cfx::read_file(dir + "/vae.json"));
  EXPECT_EQ(vae["kind"], "vae");
  EXPECT_EQ(vae["split"], "test");
  EXPECT_TRUE(vae["training"].contains("test_recon_mse"));
  // Same seed, same generator: the initial weights are seeded too (they were not before
  // 2026-12-01 for the VAE, cvae and shift predictor).
  r = run_cfx(
      "train vae -q --data shapes --split test --limit 300 --epochs 1 --latent 8 "
      "--width 8 --seed 1 --out " +
      dir + "/vae2.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(cfx::read_file(dir + "/vae2.json"))["training"]["test_recon_mse"],
            vae["training"]["test_recon_mse"]);
  r = run_cfx("train attributes -q --data shapes --limit 300 --epochs 1 --width 8 --seed 1 --out " +
              dir + "/attr.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("held-out accuracy per attribute: circle"), std::string::npos) << r.out;
  r = run_cfx("train shifter -q --generator " + dir + "/vae.pt --attributes " + dir +
              "/attr.pt --steps 20 --batch-size 16 --eval-n 32 --out " + dir + "/s.pt");
  ASSERT_EQ(r.code, 0) << r.err;
  auto s = json::parse(cfx::read_file(dir + "/s.json"));
  EXPECT_EQ(s["generator"], "vae.pt");
  EXPECT_EQ(s["training"]["flip_rates"]["attributes"].size(), 11u);
  EXPECT_FALSE(s["training"].contains("checks"));
  // Until the flip rates converge: with a tolerance no check can beat, training stops at the
  // second check (step 10) — and is then the plain 10-step run (the checks draw nothing);
  // with no tolerance and much patience it runs to the cap and says it did not converge.
  const std::string shifter = "train shifter -q --generator " + dir + "/vae.pt --attributes " +
                              dir + "/attr.pt --batch-size 16 --eval-n 32 --check-n 32 ";
  // Trains a shifter with `args` into <dir>/<name>.pt and reads its sidecar's training report
  // into `training`; a failed run is fatal (called through ASSERT_NO_FATAL_FAILURE).
  auto train_shifter = [&](const std::string& args, const std::string& name, json& training) {
    auto run = run_cfx(shifter + args + " --out " + dir + "/" + name + ".pt");
    ASSERT_EQ(run.code, 0) << run.err;
    training = json::parse(cfx::read_file(dir + "/" + name + ".json"))["training"];
  };
  json conv, ten, cap;
  ASSERT_NO_FATAL_FAILURE(
      train_shifter("--steps 40 --check-every 5 --patience 1 --tolerance 1", "conv", conv));
  EXPECT_EQ(conv["steps_taken"], 10);
  EXPECT_TRUE(conv["converged"].get<bool>());
  ASSERT_EQ(conv["checks"].size(), 2u);
  EXPECT_EQ(conv["checks"][1]["step"], 10);
  ASSERT_NO_FATAL_FAILURE(train_shifter("--steps 10", "ten", ten));
  EXPECT_EQ(conv["flip_rates"], ten["flip_rates"]);
  EXPECT_EQ(conv["final_loss"], ten["final_loss"]);
  ASSERT_NO_FATAL_FAILURE(
      train_shifter("--steps 40 --check-every 5 --patience 50 --tolerance 0", "cap", cap));
  EXPECT_EQ(cap["steps_taken"], 40);
  EXPECT_FALSE(cap["converged"].get<bool>());
  EXPECT_EQ(cap["checks"].size(), 7u);  // steps 5 to 35; the cap's own rates are flip_rates
  expect_user_error(run_cfx(shifter + "--check-every 5 --patience 0 --out " + dir + "/p0.pt"),
                    "invalid patience");
  EXPECT_FALSE(fs::exists(dir + "/p0.pt"));
  r = run_cfx("explain -q --model " + shipped_model("shapes-cnn.pt") +
              " --method latent --data shapes --n 2 --set shifter=" + dir + "/s.pt --out " + dir +
              "/explain");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_user_error(run_cfx("train vae -q --data shapes --split val --out " + dir + "/v.pt"),
                    "invalid split 'val' (use train or test)");
  for (int i = 0; i < 2; ++i) {  // an image folder: images and classes, but no attributes
    fs::create_directories(dir + "/folder/c" + std::to_string(i));
    cfx::write_png(dir + "/folder/c" + std::to_string(i) + "/x.png", torch::rand({1, 28, 28}));
  }
  expect_user_error(run_cfx("train attributes -q --data " + dir + "/folder --out " + dir + "/a.pt"),
                    "has no attributes");
  expect_user_error(run_cfx("train shifter -q --generator " + shipped_model("shapes-cnn.pt") +
                            " --attributes " + dir + "/attr.pt --out " + dir + "/s2.pt"),
                    "not a generator");
}

// cfx global shows progress per batch of samples (it had none: a long run printed nothing
// until the end).
TEST(CliLatent, GlobalShowsProgressPerBatch) {
  auto out = cfx::testing::temp_dir("cli_global_progress");
  auto r = run_cfx("global --model " + shipped_model("shapes-cnn.pt") +
                   " --outcome circle --samples 100 --batch-size 20 --bootstrap 20 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GE(cfx::testing::progress_lines(r.err, "global").partial, 3) << r.err;
}
