// The library run layer: an explain job round-trips through JSON, names its bad fields, and
// run_explain() gives in memory the result.json that write_explain() writes.
#include <gtest/gtest.h>

#include <filesystem>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/eval/metrics.h"
#include "cfx/methods/options.h"
#include "cfx/methods/registry.h"
#include "cfx/run/explain_job.h"
#include "cfx/run/targets.h"
#include "data/temp_dir.h"
#include "helpers.h"

using namespace cfx;
using cfx::test::error_of;
using nlohmann::json;

TEST(ExplainJob, RoundTripsThroughJsonAndNamesBadFields) {
  ExplainJob j;
  j.method = "dip";
  j.options = {{"steps", 12}};
  j.targets = {"1", "auto"};
  j.seed = 7;
  j.batch_size = 3;
  j.kind = "counterfactual";
  auto back = ExplainJob::from_json(j.to_json());
  EXPECT_EQ(back.to_json(), j.to_json());
  EXPECT_EQ(ExplainJob::from_json(json::object()).to_json(), ExplainJob().to_json());

  EXPECT_NE(error_of([] {
              ExplainJob::from_json({{"methd", "pixel"}});
            }).find("methd"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExplainJob::from_json({{"method", "nope"}});
            }).find("nope"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExplainJob::from_json({{"batch_size", 0}});
            }).find("batch_size = 0"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExplainJob::from_json({{"seed", "x"}});
            }).find("explain job"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExplainJob::from_json({{"method", "fido"}, {"kind", "counterfactual"}});
            }).find("cfx saliency"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExplainJob::from_json({{"resume", true}});
            }).find("batches_dir"),
            std::string::npos);
}

TEST(ExplainJob, TargetsResolvePerItemAndNameTheBadOne) {
  auto F = cfx::testing::toy_classifier();
  auto x = cfx::testing::toy_dataset(4, 3).images;
  auto pred = F->predict_proba(x).argmax(1);
  auto t = resolve_targets({"1", "pred", "0", "auto"}, *F, x);
  EXPECT_EQ(t[0].item<int64_t>(), 1);
  EXPECT_EQ(t[1].item<int64_t>(), pred[1].item<int64_t>());
  EXPECT_EQ(t[2].item<int64_t>(), 0);
  EXPECT_EQ(t[3].item<int64_t>(), runner_up_classes(*F, x)[3].item<int64_t>());
  EXPECT_TRUE(torch::equal(resolve_targets({"1"}, *F, x), torch::ones({4}, torch::kLong)));
  EXPECT_NE(error_of([&] {
              resolve_targets({"0", "5", "0", "0"}, *F, x);
            }).find("of item 1"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              resolve_targets(std::vector<std::string>{"0", "1"}, *F, x);
            }).find("2 targets for 4"),
            std::string::npos);
}

TEST(ExplainJob, RunGivesInMemoryTheDocumentThatWriteWrites) {
  set_quiet(true);
  auto F = cfx::testing::toy_classifier();
  auto x = cfx::testing::toy_dataset(5, 4).images;
  ExplainJob job;
  job.method = "pixel";
  job.options = {{"steps", 15}};
  job.batch_size = 2;
  job.seed = 3;
  int64_t last = 0;
  auto out = run_explain(job, F, x, {}, json::object(),
                         [&](int64_t done, int64_t, int64_t) { last = done; });
  EXPECT_EQ(last, 5 * kProgressUnit);
  ASSERT_EQ(out.document["items"].size(), 5u);
  EXPECT_EQ(out.document["items"][4]["input"], "item 4");
  EXPECT_EQ(out.document["run"]["command"], "explain");
  EXPECT_EQ(out.explanation.result.counterfactuals.sizes(), x.sizes());
  auto dir = cfx::testing::temp_dir("explain_job");
  write_explain(out, dir);
  EXPECT_EQ(json::parse(read_file(dir + "/result.json")), out.document);
  EXPECT_TRUE(std::filesystem::exists(dir + "/report.html"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/images/0004_counterfactual.png"));
  // The same job again: the same numbers.
  auto again = run_explain(job, F, x);
  EXPECT_TRUE(torch::equal(again.explanation.result.counterfactuals,
                           out.explanation.result.counterfactuals));
  EXPECT_NE(error_of([&] { run_explain(job, F, x.slice(0, 0, 2), {"a"}); }).find("input names"),
            std::string::npos);
  auto bad = x.clone();
  bad[0][0][0][0] = NAN;
  EXPECT_NE(error_of([&] { run_explain(job, F, bad); }).find("NaN"), std::string::npos);
}

// Integer fields and options take whole numbers in their type's range only: nlohmann would
// cast anything else, undefined behaviour for a double out of range (fuzz_options found
// steps = 1e25 under UBSan). Whole floats stay accepted (30.0 from a Python computation).
TEST(ExplainJob, IntegerFieldsAndOptionsTakeOnlyWholeNumbersInRange) {
  for (const json& bad : {json(1e25), json(2.5), json(-1e300), json(18446744073709551615ull)}) {
    EXPECT_NE(error_of([&] {
                ExplainJob::from_json({{"batch_size", bad}});
              }).find("batch_size = "),
              std::string::npos)
        << bad.dump();
    EXPECT_NE(error_of([&] {
                make_method("pixel", {{"steps", bad}});
              }).find("option steps: cannot use value"),
              std::string::npos)
        << bad.dump();
  }
  EXPECT_EQ(make_method("pixel", {{"steps", 30.0}})->config()["options"]["steps"], 30);
  EXPECT_EQ(ExplainJob::from_json({{"batch_size", 8.0}}).batch_size, 8);
  EXPECT_FALSE(json_fits<int32_t>(json(int64_t{1} << 40)));
  EXPECT_TRUE(json_fits<int64_t>(json(int64_t{1} << 40)));
  EXPECT_FALSE(json_fits<std::vector<int64_t>>(json::array({1, 1e25})));
}
