// cfx eval and cfx train autoencoder end to end, and the deep-inversion presets from the CLI.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cfx/config.h"
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
                   " --threads 2 --batch-size 3" + " --set disc.fit_steps=200 --oracle " +
                   shipped_model("fashion-mnist-cnn.pt") + " --autoencoders " + aes + " --out " +
                   dir + "/run");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("IM1"), std::string::npos) << r.out;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/run/eval.json"));
  ASSERT_EQ(j["methods"].size(), 2u);
  EXPECT_EQ(j["methods"][1]["config"]["options"]["fit_steps"], 200);
  EXPECT_EQ(j["methods"][0]["config"]["options"]["steps"], 150);
  for (const auto& m : j["methods"]) {
    EXPECT_EQ(m["batch_workers"], 2);  // two batches of 3, side by side on 2 threads
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
  expect_user_error(run_cfx(base + "--batch-workers -1"), "batch_workers = -1");
  // One batch at a time when asked, and recorded per method.
  auto one = run_cfx("eval -q --model " + m +
                     " --data fashion-mnist --n 4 --batch-size 2 --threads 2 --methods gradient "
                     "--batch-workers 1 --out " +
                     dir + "/one");
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(
      nlohmann::json::parse(cfx::read_file(dir + "/one/eval.json"))["methods"][0]["batch_workers"],
      1);
  expect_user_error(run_cfx(base + "--autoencoders " + m), "not autoencoders");
  expect_user_error(run_cfx(base + "--oracle " + shipped_model("shapes-cnn.pt")),
                    "oracle " + shipped_model("shapes-cnn.pt") + " does not match");
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

namespace {

// The items of a result.json without what differs between runs of the same settings (wall
// time and memory).
nlohmann::json stable_items(const std::string& path) {
  auto items = nlohmann::json::parse(cfx::read_file(path))["items"];
  for (auto& item : items)
    for (const char* k : {"seconds", "peak_mb", "peak_mb_per_item"}) item.erase(k);
  return items;
}

nlohmann::json stable_summaries(const std::string& path) {
  auto j = nlohmann::json::parse(cfx::read_file(path));
  nlohmann::json out = nlohmann::json::array();
  for (auto m : j["methods"]) {
    for (const char* k : {"seconds", "peak_mb", "peak_mb_per_item"}) m["summary"].erase(k);
    out.push_back({{"method", m["method"]}, {"summary", m["summary"]}, {"config", m["config"]}});
  }
  return out;
}

}  // namespace

TEST(CliEval, ResumeAfterSigkillGivesTheUninterruptedResult) {
  auto dir = cfx::testing::temp_dir("cli_eval_resume");
  const std::string args = "eval -q --model " + shipped_model("fashion-mnist-cnn.pt") +
                           " --data fashion-mnist --n 6 --batch-size 2 --methods pixel,fido" +
                           " --set pixel.steps=120 --set fido.steps=60 --seed 3 --out ";
  // Start a run and kill it (SIGKILL: no chance to clean up) once fido's first batch is on disk.
  const std::string killed = dir + "/killed";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = "exec " + std::string(CFX_BIN) + " " + args + killed + " >" + dir +
                      "/killed.log 2>&1 </dev/null";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto first = fs::path(killed) / "fido/batches/000000-000002.pt";
  bool seen = false;
  for (int i = 0; i < 30000 && !seen; ++i) {  // up to 10 minutes
    seen = fs::exists(first);
    int status = 0;
    if (!seen && ::waitpid(pid, &status, WNOHANG) == pid) FAIL() << "the run ended before the kill";
    if (!seen) ::usleep(20 * 1000);
  }
  ASSERT_TRUE(seen);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  // pixel finished before the kill, fido had 1 of 3 batches (at most 2 if one more ended
  // between the check and the kill); no eval.json yet.
  EXPECT_FALSE(fs::exists(killed + "/eval.json"));
  int fido_batches = 0;
  for (const auto& e : fs::directory_iterator(killed + "/fido/batches"))
    fido_batches += e.path().extension() == ".pt";
  EXPECT_GE(fido_batches, 1);
  EXPECT_LT(fido_batches, 3);

  auto resumed = run_cfx(args + killed + " --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  auto whole = run_cfx(args + dir + "/whole");
  ASSERT_EQ(whole.code, 0) << whole.err;
  EXPECT_EQ(stable_summaries(killed + "/eval.json"), stable_summaries(dir + "/whole/eval.json"));
  for (const char* m : {"pixel", "fido"})
    EXPECT_EQ(stable_items(killed + "/" + m + "/result.json"),
              stable_items(dir + "/whole/" + m + "/result.json"))
        << m;
  // Other settings with --resume are refused, naming the difference.
  expect_user_error(run_cfx(args + killed + " --resume --set pixel.steps=121"), "steps");
  // cfx explain resumes the same way.
  auto ex = "explain -q --model " + shipped_model("fashion-mnist-cnn.pt") +
            " --data fashion-mnist --n 3 --batch-size 2 --steps 80 --out " + dir + "/ex";
  ASSERT_EQ(run_cfx(ex).code, 0);
  auto before = stable_items(dir + "/ex/result.json");
  fs::remove(dir + "/ex/batches/000002-000003.pt");
  auto again = run_cfx(ex + " --resume");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(stable_items(dir + "/ex/result.json"), before);
}

TEST(CliEval, MnistGetsCoutFidMorphometryAndPeakMemory) {
  auto dir = cfx::testing::temp_dir("cli_eval_mnist");
  // No --fid-net: the shipped mnist oracle beside the model is the feature network (the FID
  // arithmetic is tested in Fid.*).
  auto r = run_cfx("eval -q --model " + shipped_model("mnist-cnn.pt") +
                   " --data mnist --n 5 --methods pixel --set steps=150 --fid-reference 400" +
                   " --out " + dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("COUT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FID"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MB/item"), std::string::npos) << r.out;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/eval.json"));
  EXPECT_EQ(j["fid_reference_items"], 400);
  EXPECT_EQ(fs::path(j["fid_network"].get<std::string>()).filename(), "mnist-oracle-resnet.pt");
  const auto& s = j["methods"][0]["summary"];
  double cout = s["cout"]["mean"].get<double>();
  EXPECT_GE(cout, -1.0);
  EXPECT_LE(cout, 1.0);
  EXPECT_GT(s["fid"]["mean"].get<double>(), 0.0);
  EXPECT_EQ(s["fid"]["n"], 5);
  // The reference mixes the real images of the items' target classes, out of those 400.
  EXPECT_GT(s["fid"]["reference_n"].get<int>(), 20);
  EXPECT_LE(s["fid"]["reference_n"].get<int>(), 400);
  for (const char* k :
       {"morph_area", "morph_thickness", "morph_slant", "morph_width", "morph_height"}) {
    ASSERT_TRUE(s.contains(k)) << k;
    EXPECT_GE(s[k]["mean"].get<double>(), 0.0) << k;
  }
  // Peak memory: measured on Linux, per batch and per item (one batch of 5 here).
  ASSERT_TRUE(s["peak_mb"]["mean"].is_number());
  EXPECT_GE(s["peak_mb"]["mean"].get<double>(), 0.0);
  EXPECT_NEAR(s["peak_mb_per_item"]["mean"].get<double>(), s["peak_mb"]["mean"].get<double>() / 5,
              1e-3);
  auto csv = cfx::read_file(dir + "/eval.csv");
  EXPECT_NE(csv.find("pixel,fid,"), std::string::npos);
  EXPECT_NE(csv.find("pixel,morph_slant,"), std::string::npos);
  auto html = cfx::read_file(dir + "/report.html");
  // A row per metric; metrics with a better direction carry its arrow after the name.
  for (std::string k : {"cout", "fid", "morph_thickness", "peak_mb_per_item"})
    EXPECT_TRUE(html.find("<th>" + k + "<") != std::string::npos ||
                html.find("<th>" + k + " <span class=\"dir\">") != std::string::npos)
        << k;
  // Each item's COUT and attribute changes are in the method's result.json.
  auto res = nlohmann::json::parse(cfx::read_file(dir + "/pixel/result.json"));
  EXPECT_TRUE(res["items"][0].contains("cout"));
  EXPECT_TRUE(res["items"][0].contains("morph_slant"));
  expect_user_error(
      run_cfx("eval --model " + shipped_model("mnist-cnn.pt") + " --data mnist --n 2 --fid-net " +
              shipped_model("shapes-cnn.pt") + " --out " + dir + "/bad"),
      "FID network " + shipped_model("shapes-cnn.pt"));
}

// On shapes the attribute oracle (found beside the model) has exclusive groups, so each
// item's attribute changes are counted twice: MNAC by attribute and by factor, where a change
// of shape or colour (two flips) is one factor. The latent method's code edits change a shape
// for most items, so the factor count is below MNAC there, and never above it for any item.
TEST(CliEval, ShapesCountsAttributeChangesByFactor) {
  auto dir = cfx::testing::temp_dir("cli_eval_factors");
  auto r = run_cfx("eval -q --model " + shipped_model("shapes-cnn.pt") +
                   " --data shapes --n 6 --seed 2 --methods latent --set via=code" +
                   " --cout-steps 0 --fid-net none --out " + dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("MNAC f."), std::string::npos) << r.out;
  auto e = nlohmann::json::parse(cfx::read_file(dir + "/latent/result.json"));
  ASSERT_EQ(e["items"].size(), 6u);
  double by_attribute = 0, by_factor = 0;
  for (const auto& item : e["items"]) {
    ASSERT_TRUE(item.contains("mnac_factors")) << item.dump();
    EXPECT_LE(item["mnac_factors"].get<double>(), item["mnac"].get<double>());
    by_attribute += item["mnac"].get<double>();
    by_factor += item["mnac_factors"].get<double>();
  }
  EXPECT_LT(by_factor, by_attribute);
}

// The generative methods on Fashion-MNIST with the shipped generator, shifter, cvae and
// attribute classifier (found beside the model): eval gives each item the counterfactual and
// scores that `cfx explain` gives it with the same seed, and counts attribute flips (MNAC).
TEST(CliEval, LatentAndAipOnFashionMnistMatchExplain) {
  auto dir = cfx::testing::temp_dir("cli_eval_generative");
  const std::string model = shipped_model("fashion-mnist-cnn.pt");
  const std::string items = " --data fashion-mnist --n 3 --offset 5 --seed 4";
  auto r = run_cfx("eval -q --model " + model + items +
                   " --methods latent,aip --cout-steps 0 --fid-net none --out " + dir + "/run");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cfx::read_file(dir + "/run/eval.json"));
  for (const char* method : {"latent", "aip"}) {
    r = run_cfx("explain -q --model " + model + items + " --method " + method + " --out " + dir +
                "/" + method);
    ASSERT_EQ(r.code, 0) << r.err;
    auto e = nlohmann::json::parse(cfx::read_file(dir + "/" + method + "/result.json"));
    auto v = nlohmann::json::parse(cfx::read_file(dir + "/run/" + method + "/result.json"));
    ASSERT_EQ(e["items"].size(), 3u);
    for (int i = 0; i < 3; ++i) {
      for (const char* k : {"input", "target_class", "valid", "counterfactual_class"})
        EXPECT_EQ(e["items"][i][k], v["items"][i][k]) << method << " item " << i << " " << k;
      for (const char* k : {"l1", "l2", "target_prob"})
        EXPECT_NEAR(e["items"][i][k].get<double>(), v["items"][i][k].get<double>(), 1e-6)
            << method << " item " << i << " " << k;
    }
  }
  for (const auto& m : j["methods"]) {
    ASSERT_TRUE(m["summary"].contains("mnac")) << m["summary"].dump();
    EXPECT_EQ(m["summary"]["mnac"]["n"], 3);
    // Fashion-MNIST's attributes form no exclusive groups: no count by factor (it would be MNAC).
    EXPECT_FALSE(m["summary"].contains("mnac_factors")) << m["summary"].dump();
    if (m["method"] != "latent") continue;
    // Which route reached each item, as rates; an item none reached is invalid.
    double reached = 0;
    for (const char* k : {"route_edit", "route_request", "route_latent"}) {
      ASSERT_TRUE(m["summary"].contains(k)) << k;
      EXPECT_EQ(m["summary"][k]["interval"], "wilson");
      reached += m["summary"][k]["mean"].get<double>();
    }
    EXPECT_NEAR(reached, m["summary"]["validity"]["mean"].get<double>(), 1e-9);
  }
}
