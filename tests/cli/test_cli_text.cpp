// `cfx explain-text` end to end with the shipped text models, and its user errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cfx/core/fs.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using cfx::testing::expect_user_error;
using cfx::testing::run_cfx;
using cfx::testing::shipped_model;
using nlohmann::json;

TEST(TextCli, ExplainTextPrintsTheCounterfactualAndWritesResultJson) {
  auto out = cfx::testing::temp_dir("cli_text_explain");
  auto r = run_cfx(
      "explain-text -q --method aip --text 'The movie was not good, sadly!' "
      "--text 'the pizza was good' --target positive --out " +
      out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("reconstruction:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("counterfactual:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown words (read as <unk>): sadly"), std::string::npos) << r.out;
  auto j = json::parse(cfx::read_file(out + "/result.json"));
  ASSERT_EQ(j["items"].size(), 2u);
  const auto& a = j["items"][0];
  EXPECT_EQ(a["before"]["class"], "negative");
  EXPECT_EQ(a["target"], "positive");
  EXPECT_EQ(a["unknown_words"], json::array({"sadly"}));
  EXPECT_TRUE(a["valid"].get<bool>()) << a.dump(2);
  EXPECT_EQ(a["after"]["class"], "positive");
  EXPECT_GE(a["tokens_changed"].get<int>(), 1);
  EXPECT_GE(a["changed_attributes"].size(), 1u);
  // Already positive: nothing to change, the search stops at once.
  const auto& b = j["items"][1];
  EXPECT_EQ(b["steps"], 0);
  EXPECT_EQ(j["config"]["options"]["steps"], 300);
}

TEST(TextCli, TextsFileIsBatchedAndSameSeedSameOutput) {
  auto dir = cfx::testing::temp_dir("cli_text_file");
  {
    std::ofstream f(dir + "/in.txt");
    f << "the soup is bad\n\nthis film was not boring\ni think the cake is lovely\n";
  }
  auto a = run_cfx("explain-text -q --texts " + dir + "/in.txt --out " + dir + "/a");
  auto b = run_cfx("explain-text -q --texts " + dir + "/in.txt --batch-size 1 --out " + dir + "/b");
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  auto ja = json::parse(cfx::read_file(dir + "/a/result.json"));
  auto jb = json::parse(cfx::read_file(dir + "/b/result.json"));
  ASSERT_EQ(ja["items"].size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(ja["items"][i]["counterfactual"], jb["items"][i]["counterfactual"]);
}

TEST(TextCli, UserMistakesFailWithOneLine) {
  expect_user_error(run_cfx("explain-text --text ''"), "empty");
  expect_user_error(run_cfx("explain-text --text 'the movie was good' --target neutral"),
                    "not a class");
  expect_user_error(run_cfx("explain-text --text 'the movie was good' --method pixel"),
                    "unknown text method");
  expect_user_error(run_cfx("explain-text --text 'the movie was good' --model /nonexistent.pt"),
                    "not found");
  expect_user_error(run_cfx("explain-text --text 'the movie was good' --cvae " +
                            shipped_model("text-classifier.pt")),
                    "not a text cvae");
  expect_user_error(run_cfx("explain-text --text 'the movie was good' --steps -1"), "steps");
  // A corrupt weights file beside a valid sidecar.
  auto dir = cfx::testing::temp_dir("cli_text_corrupt");
  std::filesystem::copy_file(shipped_model("text-cvae.json"), dir + "/g.json");
  cfx::write_atomic(dir + "/g.pt", "not a torch archive");
  expect_user_error(run_cfx("explain-text --text 'the movie was good' --cvae " + dir + "/g.pt"),
                    "cannot load weights");
  // Another vocabulary: the sidecar lists one word more.
  auto side = json::parse(cfx::read_file(shipped_model("text-cvae.json")));
  side["vocab"].push_back("extra");
  cfx::write_atomic(dir + "/v.json", side.dump());
  std::filesystem::copy_file(shipped_model("text-cvae.pt"), dir + "/v.pt");
  expect_user_error(run_cfx("explain-text --text 'the movie was good' --cvae " + dir + "/v.pt"),
                    "v.pt");
}
