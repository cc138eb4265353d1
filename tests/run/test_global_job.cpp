// The library run layer for `cfx global`: a global job round-trips through JSON and names its
// bad fields; run_global() scores in memory what write_global() writes.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/models/classifier.h"
#include "cfx/run/global_job.h"
#include "cli/cli_runner.h"
#include "data/temp_dir.h"
#include "helpers.h"

using namespace cfx;
using cfx::test::throws_naming;
using cfx::testing::shipped_model;
using nlohmann::json;

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
  auto F = load_classifier(shipped_model("shapes-cnn.pt"));
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

// The oracle generator scores the shipped shape-rule CNN: the shape it decides on is
// necessary and sufficient, what the rule ignores is not; a learned generator's scores get
// the true ones beside them on shapes (reference auto) and not with reference none.
TEST(GlobalJob, TheOracleGivesTrueScoresAndLearnedScoresTheirDistanceToThem) {
  set_quiet(true);
  auto F = load_classifier(shipped_model("shapes-cnn.pt"));
  GlobalJob job;
  job.outcome = {"circle"};
  job.generator = "oracle";
  job.samples = 150;
  job.batch_size = 64;
  job.bootstrap = 20;
  auto out = run_global(job, F);
  const auto& doc = out.document;
  EXPECT_EQ(doc["config"]["generator"], "oracle");
  EXPECT_EQ(doc["summary"]["samples"], 150);
  EXPECT_FALSE(doc["summary"].contains("oracle_reference"));
  for (const auto& c : out.scores) {
    SCOPED_TRACE(c.attribute);
    if (c.attribute == "circle") {
      EXPECT_GT(c.nesuf.estimate, 0.9);
    } else if (c.attribute == "square" || c.attribute == "triangle") {
      EXPECT_LT(c.nesuf.estimate, -0.3);
    } else {
      EXPECT_LT(std::abs(c.nesuf.estimate), 0.1);
      if (c.necessity.n > 0) EXPECT_LT(c.necessity.estimate, 0.1);  // no circle is rotated
    }
  }
  // The oracle's latents are its scenes; sampling any rows of them gives the same samples.
  auto latents = global_latents(job, F);
  EXPECT_EQ(latents.latents.sizes(), (std::vector<int64_t>{150, 11}));
  auto part = global_samples(job, F, latents.latents.slice(0, 100, 150));
  auto whole = global_samples(job, F, latents.latents);
  EXPECT_TRUE(torch::equal(part.outcome_off, whole.outcome_off.slice(0, 100, 150)));

  GlobalJob learned;
  learned.outcome = {"circle"};
  learned.samples = 30;
  learned.bootstrap = 20;
  auto compared_run = run_global(learned, F);
  const auto& compared = compared_run.document;
  EXPECT_EQ(compared["config"]["reference"], "oracle");
  ASSERT_TRUE(compared["summary"].contains("oracle_reference"));
  const auto& row = compared["scores"][0];
  EXPECT_NEAR(row["abs_error"]["necessity_and_sufficiency"].get<double>(),
              std::abs(row["necessity_and_sufficiency"]["estimate"].get<double>() -
                       row["oracle"]["necessity_and_sufficiency"]["estimate"].get<double>()),
              1e-12);
  EXPECT_NE(global_table(compared_run).find("|learned - true|"), std::string::npos);
  learned.reference = "none";
  EXPECT_FALSE(run_global(learned, F).document["summary"].contains("oracle_reference"));

  // The oracle draws shapes only, and takes no learned models.
  auto fashion = load_classifier(shipped_model("fashion-mnist-cnn.pt"));
  job.outcome = {"0"};
  EXPECT_TRUE(throws_naming([&] { run_global(job, fashion); }, "draws shapes images only"));
  job.shifter = shipped_model("shapes-shifter.pt");
  EXPECT_TRUE(throws_naming([&] { run_global(job, F); }, "takes no shifter"));
  EXPECT_TRUE(throws_naming(
      [] {
        GlobalJob::from_json({{"outcome", {"1"}}, {"reference", "x"}});
      },
      "reference 'x'"));
}

// Runs `job`, whose samples are those of `one`'s run taken twice (the same shift predictor or
// cvae listed twice): progress counts both passes of `samples` latents, the run reports
// `samples`, and every estimate is `one`'s on twice n.
static GlobalOutcome expect_pooled_twice(const GlobalJob& job, std::shared_ptr<Classifier> F,
                                         const GlobalOutcome& one, int64_t samples) {
  int64_t last = 0, all = 0;
  auto two = run_global(job, F, {}, [&](int64_t done, int64_t n, int64_t) {
    last = done;
    all = n;
  });
  EXPECT_EQ(last, 2 * samples);
  EXPECT_EQ(all, 2 * samples);
  EXPECT_EQ(two.document["config"]["samples"], samples);
  for (size_t k = 0; k < one.scores.size(); ++k) {
    EXPECT_DOUBLE_EQ(two.scores[k].nesuf.estimate, one.scores[k].nesuf.estimate);
    EXPECT_EQ(two.scores[k].nesuf.n, 2 * one.scores[k].nesuf.n);
  }
  return two;
}

// Several shift predictors of one generator (comma-separated): their samples are pooled and
// the bootstrap resamples predictors too. The same predictor twice gives the single
// predictor's estimates on twice the samples; one of another generator is refused.
TEST(GlobalJob, SeveralShiftPredictorsPoolTheirSamples) {
  set_quiet(true);
  auto F = load_classifier(shipped_model("shapes-cnn.pt"));
  GlobalJob job;
  job.outcome = {"circle"};
  job.samples = 16;
  job.bootstrap = 20;
  job.reference = "none";
  job.only = "circle,red";
  auto one = run_global(job, F);
  job.shifter = shipped_model("shapes-shifter.pt") + "," + shipped_model("shapes-shifter.pt");
  auto two = expect_pooled_twice(job, F, one, 16);
  EXPECT_EQ(two.document["config"]["shifters"], 2);
  job.shifter = shipped_model("shapes-shifter.pt") + "," + shipped_model("mnist-shifter.pt");
  EXPECT_TRUE(throws_naming([&] { run_global(job, F); }, "mnist-vae.pt makes [1, 28, 28]"));
  job.shifter = shipped_model("shapes-shifter.pt") + ",";
  EXPECT_TRUE(throws_naming([&] { run_global(job, F); }, "empty shift predictor path"));
}

// via code: the interventions change the shipped shapes cvae's attribute code. Its latents are
// [z, code, coin] rows that can be sampled in any split; the run records the route, and on
// shapes carries the true scores beside its own. Wrong combinations are named.
TEST(GlobalJob, ViaCodeEditsTheCvaesAttributeCode) {
  set_quiet(true);
  auto F = load_classifier(shipped_model("shapes-colour-cnn.pt"));
  GlobalJob job;
  job.outcome = {"blue"};
  job.via = "code";
  job.samples = 150;
  job.bootstrap = 100;
  job.seed = 2;
  EXPECT_EQ(GlobalJob::from_json(job.to_json()).to_json(), job.to_json());
  auto latents = global_latents(job, F);
  EXPECT_EQ(latents.latents.size(0), 150);
  auto part = global_samples(job, F, latents.latents.slice(0, 50, 120));
  auto whole = global_samples(job, F, latents.latents);
  EXPECT_TRUE(torch::equal(part.outcome_on, whole.outcome_on.slice(0, 50, 120)));
  auto run = run_global(job, F);
  const auto& doc = run.document;
  EXPECT_EQ(doc["config"]["via"], "code");
  EXPECT_NE(doc["config"]["generator"].get<std::string>().find("shapes-cvae.pt"),
            std::string::npos);
  ASSERT_TRUE(doc["summary"].contains("oracle_reference"));
  std::map<std::string, CausalScores> by;
  for (const auto& c : run.scores) by[c.attribute] = c;
  // The colour rule: blue ranks first, clear of every attribute it ignores, whose
  // placebo-adjusted necessity stays small.
  for (const char* a :
       {"circle", "square", "triangle", "large", "left", "top", "rotated", "light_background"}) {
    SCOPED_TRACE(a);
    EXPECT_LT(by[a].nesuf.hi, by["blue"].nesuf.lo);
    if (by[a].necessity_adjusted.n > 0) EXPECT_LE(by[a].necessity_adjusted.estimate, 0.2);
  }
  // ... and every score is within 0.1 of the true one (measured at 300 samples: all within
  // 0.005; through the shift predictor, necessity of ignored attributes was off by up to 0.95).
  for (const auto& row : doc["scores"])
    for (const char* score : {"necessity_and_sufficiency", "necessity_adjusted", "sufficiency"}) {
      const auto& e = row["abs_error"][score];
      if (!e.is_null()) EXPECT_LE(e.get<double>(), 0.1) << row["attribute"] << " " << score;
    }

  auto bad = job;
  bad.shifter = shipped_model("shapes-shifter.pt");
  EXPECT_TRUE(throws_naming([&] { bad.validate(); }, "remove shifter"));
  bad = job;
  bad.latents = "prior";
  EXPECT_TRUE(throws_naming([&] { bad.validate(); }, "latents must be data"));
  bad = job;
  bad.generator = "oracle";
  EXPECT_TRUE(throws_naming([&] { bad.validate(); }, "via code edits a cvae"));
  EXPECT_TRUE(throws_naming(
      [] {
        GlobalJob::from_json({{"outcome", {"1"}}, {"via", "latent"}});
      },
      "via 'latent'"));
  // A cvae of another dataset does not fit the classifier.
  bad = job;
  bad.generator = shipped_model("mnist-cvae.pt");
  EXPECT_THROW(run_global(bad, F), Error);
}

// Several cvaes via code (comma-separated), as several shift predictors: one block of latent
// columns per cvae, their samples pooled and the bootstrap resampling cvaes too. The same cvae
// twice gives the single cvae's estimates on twice the samples; cvaes that read attributes
// with different classifiers, an empty entry, and several generators through the shift
// predictor are refused.
TEST(GlobalJob, SeveralCvaesPoolTheirSamples) {
  set_quiet(true);
  auto F = load_classifier(shipped_model("shapes-cnn.pt"));
  GlobalJob job;
  job.outcome = {"circle"};
  job.via = "code";
  job.samples = 16;
  job.bootstrap = 20;
  job.reference = "none";
  job.only = "circle,red";
  auto one = run_global(job, F);
  const int64_t width = global_latents(job, F).latents.size(1);
  job.generator = shipped_model("shapes-cvae.pt") + "," + shipped_model("shapes-cvae.pt");
  auto latents = global_latents(job, F).latents;
  EXPECT_EQ(latents.size(1), 2 * width);
  auto part = global_samples(job, F, latents.slice(0, 5, 12));
  auto whole = global_samples(job, F, latents);
  EXPECT_EQ(whole.groups(), 2);
  EXPECT_TRUE(torch::equal(part.outcome_off, whole.outcome_off.slice(0, 10, 24)));
  auto two = expect_pooled_twice(job, F, one, 16);
  EXPECT_EQ(two.document["config"]["generators"], 2);
  EXPECT_EQ(one.document["config"]["generators"], 1);
  EXPECT_TRUE(throws_naming([&] { global_samples(job, F, latents.slice(1, 0, width)); },
                            "latents of 2 cvae(s)"));
  // A copy of the cvae beside a copy of its attribute classifier reads attributes with
  // another classifier file.
  cfx::test::TempDir dir("global_cvaes");
  for (const char* name :
       {"shapes-cvae.pt", "shapes-cvae.json", "shapes-attributes.pt", "shapes-attributes.json"})
    std::filesystem::copy_file(shipped_model(name), dir.str(name));
  job.generator = shipped_model("shapes-cvae.pt") + "," + dir.str("shapes-cvae.pt");
  EXPECT_TRUE(throws_naming([&] { run_global(job, F); }, "different classifiers"));
  job.attributes = shipped_model("shapes-attributes.pt");  // named: both read with it
  EXPECT_EQ(run_global(job, F).document["config"]["generators"], 2);
  job.generator = shipped_model("shapes-cvae.pt") + ",";
  EXPECT_TRUE(throws_naming([&] { run_global(job, F); }, "empty cvae path"));
  job.generator = shipped_model("shapes-cvae.pt") + "," + shipped_model("mnist-cvae.pt");
  EXPECT_THROW(run_global(job, F), Error);
  job.via = "shift";
  job.attributes.clear();
  EXPECT_TRUE(throws_naming([&] { job.validate(); }, "taken via code only"));
}
