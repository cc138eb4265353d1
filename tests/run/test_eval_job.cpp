// The library run layer for `cfx eval`: an eval job round-trips through JSON and names its bad
// fields; run_eval() scores every method in memory and write_eval() writes exactly that.
#include <gtest/gtest.h>

#include <filesystem>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/eval/explain.h"
#include "cfx/run/eval_job.h"
#include "data/temp_dir.h"
#include "helpers.h"

using namespace cfx;
using cfx::test::throws_naming;
using nlohmann::json;

TEST(EvalJob, RoundTripsThroughJsonAndNamesBadFields) {
  EvalJob j;
  j.methods = {"pixel", "fido"};
  j.options = {{"steps", 12}, {"fido.lambda", 0.5}};
  j.targets = {"1", "auto"};
  j.seed = 7;
  j.corrupt = "noise:0.1";
  j.sanity = true;
  j.curve_steps = 5;
  j.cout_steps = 0;
  j.fid_net = "none";
  auto back = EvalJob::from_json(j.to_json());
  EXPECT_EQ(back.to_json(), j.to_json());
  EXPECT_EQ(EvalJob::from_json(json::object()).to_json(), EvalJob().to_json());

  EXPECT_TRUE(throws_naming([] { EvalJob::from_json({{"method", {"pixel"}}}); }, "'method'"));
  EXPECT_TRUE(throws_naming([] { EvalJob::from_json({{"methods", {"pixel", "nope"}}}); }, "nope"));
  EXPECT_TRUE(throws_naming(
      [] {
        EvalJob::from_json({{"methods", json::array()}});
      },
      "methods is empty"));
  EXPECT_TRUE(throws_naming(
      [] {
        EvalJob::from_json({{"options", {{"nope.steps", 3}}}});
      },
      "nope"));
  EXPECT_TRUE(throws_naming(
      [] {
        EvalJob::from_json({{"methods", {"disc"}}, {"options", {{"disc.stages", "0.9,0.2"}}}});
      },
      "stages"));
  EXPECT_TRUE(throws_naming([] { EvalJob::from_json({{"curve_steps", 0}}); }, "curve_steps = 0"));
  EXPECT_TRUE(throws_naming([] { EvalJob::from_json({{"cout_steps", -1}}); }, "cout_steps = -1"));
  EXPECT_TRUE(throws_naming(
      [] {
        EvalJob::from_json({{"fid_reference", 1}});
      },
      "fid_reference = 1"));
  EXPECT_TRUE(throws_naming([] { EvalJob::from_json({{"seed", "x"}}); }, "eval job"));
  // An option for every method reaches those that have it; one that none has is an error.
  EXPECT_NO_THROW(
      EvalJob::from_json({{"methods", {"pixel", "gradient"}}, {"options", {{"steps", 5}}}}));
  EXPECT_TRUE(throws_naming(
      [] {
        EvalJob::from_json({{"methods", {"pixel", "gradient"}}, {"options", {{"bogus", 1}}}});
      },
      "unknown option 'bogus' for pixel, gradient"));
  EXPECT_TRUE(throws_naming([] { EvalJob::from_json({{"resume", true}}); }, "batches_dir"));
}

TEST(EvalJob, RunScoresEveryMethodAndWriteWritesThatRun) {
  set_quiet(true);
  auto F = cfx::testing::toy_classifier();
  auto x = cfx::testing::toy_dataset(4, 9).images;
  EvalJob job;
  job.methods = {"pixel", "gradient"};
  job.options = {{"steps", 15}};  // pixel has it, gradient does not
  job.batch_size = 3;
  job.seed = 2;
  job.cout_steps = 4;
  job.curve_steps = 4;
  EvalItems items;
  items.images = x;
  std::vector<std::string> seen;
  std::map<std::string, int64_t> last;
  auto out = run_eval(job, F, items, {}, {{"invocation", "test"}},
                      [&](const std::string& m, int64_t done, int64_t total) {
                        if (seen.empty() || seen.back() != m) seen.push_back(m);
                        last[m] = done;
                        EXPECT_EQ(total, 4 * kProgressUnit);
                      });
  EXPECT_EQ(seen, (std::vector<std::string>{"pixel", "gradient"}));
  EXPECT_EQ(last["pixel"], 4 * kProgressUnit);
  EXPECT_EQ(last["gradient"], 4 * kProgressUnit);
  ASSERT_EQ(out.methods.size(), 2u);
  ASSERT_EQ(out.documents.size(), 2u);
  const auto& doc = out.document;
  EXPECT_EQ(doc["schema"], "cfx.eval");
  EXPECT_EQ(doc["items"], 4);
  EXPECT_EQ(doc["invocation"], "test");
  EXPECT_EQ(doc["methods"][0]["kind"], "counterfactual");
  EXPECT_EQ(doc["methods"][1]["kind"], "saliency");
  EXPECT_EQ(doc["methods"][0]["config"]["options"]["steps"], 15);  // "pixel.steps" reached it
  EXPECT_TRUE(doc["methods"][0]["summary"].contains("validity"));
  EXPECT_TRUE(doc["methods"][0]["summary"].contains("cout"));
  EXPECT_TRUE(doc["methods"][1]["summary"].contains("deletion_auc"));
  // Saliency explains the predicted class when the target is "auto"; counterfactuals aim at
  // the runner-up.
  auto pred = F->predict_proba(x).argmax(1);
  EXPECT_TRUE(torch::equal(out.saliency_targets, pred));
  EXPECT_FALSE(torch::equal(out.targets, pred));
  EXPECT_EQ(out.documents[0]["run"]["command"], "eval");
  EXPECT_TRUE(out.documents[0]["items"][0].contains("cout"));  // per-item metrics join items

  auto dir = cfx::testing::temp_dir("eval_job");
  write_eval(out, dir);
  EXPECT_EQ(json::parse(read_file(dir + "/eval.json")), doc);
  EXPECT_EQ(read_file(dir + "/eval.csv"), eval_csv(doc));
  EXPECT_EQ(json::parse(read_file(dir + "/pixel/result.json")), out.documents[0]);
  EXPECT_EQ(json::parse(read_file(dir + "/gradient/result.json")), out.documents[1]);
  EXPECT_TRUE(std::filesystem::exists(dir + "/report.html"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/gradient/report.html"));
  auto table = eval_table(doc);
  EXPECT_NE(table.find("pixel"), std::string::npos);
  EXPECT_NE(table.find("deletion"), std::string::npos);
  EXPECT_NE(eval_csv(doc).find("pixel,validity,"), std::string::npos);

  // Same job, same numbers.
  auto again = run_eval(job, F, items);
  EXPECT_TRUE(torch::equal(again.methods[0].explanation.result.counterfactuals,
                           out.methods[0].explanation.result.counterfactuals));
  EXPECT_EQ(again.document["methods"][0]["summary"]["l1"], doc["methods"][0]["summary"]["l1"]);
}

TEST(EvalJob, WhatTheItemsCannotGiveIsOneClearError) {
  set_quiet(true);
  auto F = cfx::testing::toy_classifier();
  EvalItems items;
  items.images = cfx::testing::toy_dataset(2, 1).images;
  EvalJob job;
  job.methods = {"gradient"};
  job.sanity = true;
  EXPECT_TRUE(throws_naming([&] { run_eval(job, F, items); }, "second copy"));
  job.sanity = false;
  job.surrogate = 10;  // held-out items come from the items' dataset: there is none
  EXPECT_TRUE(throws_naming([&] { run_eval(job, F, items); }, "surrogate"));
  job.surrogate = 0;
  job.fid_net = "some-net.pt";  // FID needs real images of a dataset
  EXPECT_TRUE(throws_naming([&] { run_eval(job, F, items); }, "FID needs items of a dataset"));
  job.fid_net = "";
  job.oracle = "missing-oracle.pt";
  EXPECT_TRUE(throws_naming([&] { run_eval(job, F, items); }, "missing-oracle.pt"));
  job.oracle = "";
  job.targets = {"0", "1", "0"};
  EXPECT_TRUE(throws_naming([&] { run_eval(job, F, items); }, "3 targets for 2"));
}
