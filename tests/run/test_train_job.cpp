// The library run layer for `cfx train`: every trainer declares its options once (key,
// default, help), a train job round-trips through JSON and names what is wrong, and
// run_train() writes the weights and the sidecar it returns.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/classifier.h"
#include "cfx/run/train_job.h"
#include "data/temp_dir.h"
#include "helpers.h"

using namespace cfx;
using cfx::test::throws_naming;
using nlohmann::json;

TEST(TrainJob, EveryTrainerDeclaresItsOptionsOnce) {
  std::set<std::string> kinds;
  for (const auto& t : trainers()) {
    kinds.insert(t.kind);
    EXPECT_FALSE(t.description.empty()) << t.kind;
    std::set<std::string> keys;
    for (const auto& o : t.options) {
      EXPECT_TRUE(keys.insert(o.key).second) << t.kind << " declares " << o.key << " twice";
      EXPECT_FALSE(o.help.empty()) << t.kind << " " << o.key;
      EXPECT_FALSE(o.default_value.is_null()) << t.kind << " " << o.key;
    }
    EXPECT_TRUE(keys.count("seed")) << t.kind << ": every trainer is seeded";
  }
  EXPECT_EQ(kinds,
            (std::set<std::string>{"classifier", "autoencoder", "inpainter", "vae", "attributes",
                                   "shifter", "cvae", "text-classifier", "text-cvae"}));
  EXPECT_TRUE(throws_naming([] { trainer("gan"); }, "known: classifier, autoencoder"));
}

TEST(TrainJob, RoundTripsThroughJsonAndNamesBadOptions) {
  TrainJob j;
  j.kind = "vae";
  j.options = {{"epochs", 2}, {"beta", 0.5}, {"data", "mnist"}};
  j.out = "m/vae.pt";
  j.command = "test";
  EXPECT_EQ(TrainJob::from_json(j.to_json()).to_json(), j.to_json());
  auto job = [](json options) {
    return [options] {
      TrainJob::from_json({{"kind", "classifier"}, {"options", options}, {"out", "x.pt"}});
    };
  };
  EXPECT_TRUE(
      throws_naming(job({{"epoch", 2}}), "unknown option 'epoch' for train classifier; known:"));
  EXPECT_TRUE(throws_naming(job({{"epochs", "two"}}), "epochs = \"two\" (must be an integer)"));
  EXPECT_TRUE(throws_naming(job({{"epochs", 1.5}}), "must be an integer"));
  EXPECT_TRUE(throws_naming(job({{"seed", -1}}), "must be a non-negative integer"));
  EXPECT_TRUE(throws_naming(job({{"augment", 1}}), "must be true or false"));
  EXPECT_TRUE(throws_naming(job({{"lr", "fast"}}), "must be a number"));
  EXPECT_NO_THROW(job({{"lr", 1}, {"augment", false}, {"seed", 3}})());  // 1 is a number too
  EXPECT_TRUE(throws_naming(
      [] {
        TrainJob::from_json({{"kind", "classifier"}});
      },
      "(out) is required"));
  EXPECT_TRUE(throws_naming([] { TrainJob::from_json({{"knd", "vae"}}); }, "'knd'"));
}

TEST(TrainJob, RunWritesTheModelAndTheSidecarItReturns) {
  set_quiet(true);
  cfx::test::TempDir dir("train_job");
  TrainJob job;
  job.kind = "classifier";
  job.options = {{"data", "shapes"}, {"shapes_size", 16}, {"limit", 64},      {"epochs", 1},
                 {"batch_size", 32}, {"width", 4},        {"augment", false}, {"seed", 5}};
  job.out = dir.str("a.pt");
  job.command = "unit test";
  auto out = run_train(job);
  EXPECT_EQ(out.path, job.out);
  EXPECT_NE(out.summary.find("test accuracy"), std::string::npos);
  auto side = read_sidecar(job.out);
  EXPECT_EQ(side["command"], "unit test");
  EXPECT_EQ(side["seed"], 5);
  EXPECT_EQ(side["train_options"], out.sidecar["train_options"]);
  EXPECT_EQ(side["train_options"]["augment"], false);
  EXPECT_EQ(side["dataset_options"]["limit"], 64);
  auto F = load_classifier(job.out);
  EXPECT_EQ(F->input_shape(), (std::vector<int64_t>{3, 16, 16}));
  // The same job again: the same weights, bit for bit.
  job.out = dir.str("b.pt");
  run_train(job);
  EXPECT_EQ(read_file(dir.str("a.pt")), read_file(dir.str("b.pt")));
  // An unwritable folder fails before any training.
  job.out = "/proc/cfx-no/x.pt";
  EXPECT_TRUE(throws_naming([&] { run_train(job); }, "/proc/cfx-no"));
}
