// The library run layer for `cfx global`: a global job round-trips through JSON and names its
// bad fields; run_global() scores in memory what write_global() writes.
#include <gtest/gtest.h>

#include <filesystem>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/run/global_job.h"
#include "data/temp_dir.h"
#include "helpers.h"

using namespace cfx;
using cfx::test::throws_naming;
using nlohmann::json;

namespace {

std::string shipped(const std::string& name) {
  return std::string(CFX_SOURCE_DIR) + "/models/" + name;
}

}  // namespace

TEST(GlobalJob, RoundTripsThroughJsonAndNamesBadFields) {
  GlobalJob j;
  j.outcome = {"circle", "2"};
  j.latents = "prior";
  j.samples = 40;
  j.only = "red,blue";
  j.confidence = 0.9;
  j.seed = 4;
  EXPECT_EQ(GlobalJob::from_json(j.to_json()).to_json(), j.to_json());
  EXPECT_TRUE(throws_naming([] { GlobalJob::from_json(json::object()); }, "outcome is required"));
  EXPECT_TRUE(throws_naming(
      [] {
        GlobalJob::from_json({{"outcome", {"1"}}, {"sample", 3}});
      },
      "'sample'"));
  EXPECT_TRUE(throws_naming(
      [] {
        GlobalJob::from_json({{"outcome", {"1"}}, {"samples", 0}});
      },
      "samples: 0"));
  EXPECT_TRUE(throws_naming(
      [] {
        GlobalJob::from_json({{"outcome", {"1"}}, {"latents", "z"}});
      },
      "latents 'z'"));
  EXPECT_TRUE(throws_naming(
      [] {
        GlobalJob::from_json({{"outcome", {"1"}}, {"bootstrap", 2}});
      },
      "bootstrap: 2"));
  EXPECT_TRUE(throws_naming([] { GlobalJob::from_json({{"outcome", "1"}}); }, "global job"));
}

TEST(GlobalJob, RunScoresEveryAttributeAndWriteWritesThatRun) {
  set_quiet(true);
  auto F = load_classifier(shipped("shapes-cnn.pt"));
  GlobalJob job;
  job.outcome = {"circle"};
  job.samples = 24;
  job.batch_size = 10;
  job.bootstrap = 20;
  job.seed = 3;
  int64_t last = 0, all = 0;
  auto out = run_global(job, F, {{"invocation", "test"}}, [&](int64_t done, int64_t n, int64_t) {
    last = done;
    all = n;
  });
  EXPECT_EQ(last, 24);
  EXPECT_EQ(all, 24);
  const auto& doc = out.document;
  EXPECT_EQ(doc["schema"], "cfx.global");
  EXPECT_EQ(doc["run"]["command"], "global");
  EXPECT_EQ(doc["config"]["outcome_names"], "circle");
  ASSERT_EQ(out.scores.size(), doc["scores"].size());
  ASSERT_EQ(doc["items"].size(), out.scores.size() + 1);  // the chart, then one per attribute
  EXPECT_EQ(out.chart.dim(), 3);
  auto dir = cfx::testing::temp_dir("global_job");
  write_global(out, dir);
  EXPECT_EQ(json::parse(read_file(dir + "/global.json")), doc);
  EXPECT_TRUE(std::filesystem::exists(dir + "/global.png"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/report.html"));
  EXPECT_NE(global_table(out).find(out.scores[0].attribute), std::string::npos);
  // Same job, same scores (the bootstrap is seeded too).
  auto again = run_global(job, F);
  EXPECT_EQ(again.document["scores"], doc["scores"]);

  job.outcome = {"hexagon"};
  EXPECT_TRUE(throws_naming([&] { run_global(job, F); }, "unknown outcome class 'hexagon'"));
  job.outcome = {"9"};
  EXPECT_TRUE(throws_naming([&] { run_global(job, F); }, "out of range"));
}
