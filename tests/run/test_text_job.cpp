// The text job: round-trips through JSON, names its bad fields, and run_explain_text() gives
// in memory the result.json that write_explain_text() writes.
#include <gtest/gtest.h>

#include "cfx/core/fs.h"
#include "cfx/run/text_job.h"
#include "data/temp_dir.h"

using namespace cfx;
using cfx::test::error_of;
using nlohmann::json;

TEST(TextJob, RoundTripsThroughJsonAndNamesBadFields) {
  TextJob j;
  j.texts = {"the movie was good"};
  j.target = "negative";
  j.optimise = "a";
  j.options = {{"steps", 40}, {"seed", 3}};
  auto back = TextJob::from_json(j.to_json());
  EXPECT_EQ(back.to_json(), j.to_json());
  EXPECT_EQ(back.aip_options().search.steps, 40);
  EXPECT_FALSE(back.aip_options().search.optimise_z);
  EXPECT_TRUE(back.aip_options().search.optimise_a);

  auto with = [&](json change) {
    json k = j.to_json();
    k.update(change);
    return error_of([&] { TextJob::from_json(k); });
  };
  EXPECT_NE(with({{"textz", 1}}).find("textz"), std::string::npos);
  EXPECT_NE(with({{"method", "nope"}}).find("nope"), std::string::npos);
  EXPECT_NE(with({{"optimise", "q"}}).find("optimise"), std::string::npos);
  EXPECT_NE(with({{"corpus", "test"}}).find("exactly one"), std::string::npos);
  EXPECT_NE(with({{"options", {{"steps", -1}}}}).find("steps"), std::string::npos);
  EXPECT_NE(with({{"options", {{"steps", 2.5}}}}).find("steps"), std::string::npos);
  EXPECT_NE(with({{"options", {{"stepz", 1}}}}).find("stepz"), std::string::npos);
  EXPECT_NE(with({{"options", {{"optimise_z", false}}}}).find("optimise"), std::string::npos);
  EXPECT_NE(with({{"texts", json::array()}, {"corpus", "test"}, {"n", 0}}).find("0"),
            std::string::npos);
}

TEST(TextJob, RunGivesTheDocumentItWrites) {
  TextJob j;
  j.texts = {"the movie was not good", "the pizza was good"};
  j.target = "positive";
  j.options = {{"steps", 60}};
  auto o = run_explain_text(j, "test");
  ASSERT_EQ(o.result.items.size(), 2u);
  EXPECT_EQ(o.document["items"].size(), 2u);
  EXPECT_EQ(o.document["config"]["command"], "test");
  EXPECT_EQ(o.document["config"]["options"]["steps"], 60);
  EXPECT_EQ(o.result.items[1].steps, 0);  // already positive
  cfx::test::TempDir dir("text_job");
  write_explain_text(o, dir.str("out"));
  EXPECT_EQ(json::parse(read_file(dir.str("out/result.json"))), o.document);
  // Same job, same result (the search is seeded).
  auto again = run_explain_text(j, "test");
  EXPECT_EQ(again.document["items"], o.document["items"]);
}
