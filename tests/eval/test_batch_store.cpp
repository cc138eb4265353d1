// Resumable runs: explain() keeps every finished batch; a resumed run equals an
// uninterrupted one; stored batches of other settings are refused.
#include <gtest/gtest.h>

#include <filesystem>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/eval/batch_store.h"
#include "cfx/eval/explain.h"
#include "cfx/methods/registry.h"
#include "helpers.h"

using namespace cfx;
namespace fs = std::filesystem;

namespace {

Request store_request(int64_t n) { return cfx::testing::toy_flip_request(n, 5); }

// FIDO draws random mask samples from the batch's seed, so a batch run with another seed
// (or in another chunking) would give other maps.
std::unique_ptr<Method> fido() {
  return make_method("fido", {{"infill", "blur"}, {"steps", 25}, {"samples", 2}});
}

int count_batch_files(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".pt";
  return n;
}

}  // namespace

TEST(BatchStore, ResumedRunEqualsUninterruptedRun) {
  auto dir = cfx::testing::temp_dir("batch_store") + "/batches";
  auto req = store_request(5);
  auto plain = explain(*fido(), req, 2);
  auto stored = explain(*fido(), req, 2, {dir, false});
  EXPECT_EQ(count_batch_files(dir), 3);  // items 0-1, 2-3, 4
  EXPECT_EQ(stored.resumed_batches, 0);
  // Keeping batches does not change the result.
  EXPECT_TRUE(torch::equal(plain.result.saliency, stored.result.saliency));
  // A run killed after its first two batches: the third file never got written.
  fs::remove(fs::path(dir) / "000004-000005.pt");
  auto resumed = explain(*fido(), req, 2, {dir, true});
  EXPECT_EQ(resumed.resumed_batches, 2);
  EXPECT_TRUE(torch::equal(plain.result.saliency, resumed.result.saliency));
  EXPECT_TRUE(torch::equal(plain.result.infilled, resumed.result.infilled));
  EXPECT_TRUE(torch::equal(plain.result.steps, resumed.result.steps));
  EXPECT_TRUE(torch::equal(plain.result.converged, resumed.result.converged));
  EXPECT_EQ(plain.result.target_prob_trace, resumed.result.target_prob_trace);
  EXPECT_EQ(plain.result.loss_trace, resumed.result.loss_trace);
  EXPECT_TRUE(torch::equal(plain.saliency.class_prob, resumed.saliency.class_prob));
  EXPECT_EQ(resumed.config, plain.config);
  // Seconds and peak memory of the loaded batches are the ones measured when they ran.
  EXPECT_EQ(resumed.batch_peak_mb[0].item<float>(), stored.batch_peak_mb[0].item<float>());
  EXPECT_EQ(count_batch_files(dir), 3);
  // Resuming a finished run runs nothing.
  EXPECT_EQ(explain(*fido(), req, 2, {dir, true}).resumed_batches, 3);
  // Without resume, the old batches are dropped and everything runs again.
  EXPECT_EQ(explain(*fido(), req, 2, {dir, false}).resumed_batches, 0);
}

TEST(BatchStore, CounterfactualsAndTracesRoundTrip) {
  auto dir = cfx::testing::temp_dir("batch_store_cf") + "/batches";
  auto req = store_request(3);
  auto pixel = [] { return make_method("pixel", {{"steps", 30}}); };
  auto a = explain(*pixel(), req, 2, {dir, false});
  auto b = explain(*pixel(), req, 2, {dir, true});
  EXPECT_EQ(b.resumed_batches, 2);
  EXPECT_TRUE(torch::equal(a.result.counterfactuals, b.result.counterfactuals));
  EXPECT_TRUE(torch::equal(a.scores.target_prob, b.scores.target_prob));
  EXPECT_EQ(a.result.target_prob_trace, b.result.target_prob_trace);
  EXPECT_DOUBLE_EQ(a.result.seconds, b.result.seconds);
}

TEST(BatchStore, OtherSettingsAreRefusedWithTheDifference) {
  auto dir = cfx::testing::temp_dir("batch_store_mismatch") + "/batches";
  auto req = store_request(3);
  explain(*fido(), req, 2, {dir, false});
  auto expect_refused = [&](Method& m, const Request& r, int64_t batch, const std::string& what) {
    try {
      explain(m, r, batch, {dir, true});
      ADD_FAILURE() << "resumed despite a different " << what;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
      EXPECT_NE(msg.find("drop --resume"), std::string::npos) << msg;
    }
  };
  auto other_steps = make_method("fido", {{"infill", "blur"}, {"steps", 26}, {"samples", 2}});
  expect_refused(*other_steps, req, 2, "steps");
  expect_refused(*fido(), req, 3, "batch_size");
  auto other_seed = req;
  other_seed.seed = 6;
  expect_refused(*fido(), other_seed, 2, "seed");
  auto other_images = req;
  other_images.images = req.images.flip(3);
  expect_refused(*fido(), other_images, 2, "inputs");
  // The refused attempts left the stored run alone: it still resumes.
  EXPECT_EQ(explain(*fido(), req, 2, {dir, true}).resumed_batches, 2);
}

TEST(BatchStore, FingerprintFollowsWeightsImagesAndTargets) {
  auto req = store_request(3);
  auto& F = *req.classifier;
  auto base = run_fingerprint(F, req.images, req.targets);
  EXPECT_EQ(base.size(), 16u);
  EXPECT_EQ(base, run_fingerprint(F, req.images.clone(), req.targets.clone()));
  EXPECT_NE(base, run_fingerprint(F, req.images * 0.5, req.targets));
  EXPECT_NE(base, run_fingerprint(F, req.images, 1 - req.targets));
  auto other = cfx::testing::toy_classifier("mlp");
  EXPECT_NE(base, run_fingerprint(*other, req.images, req.targets));
}

namespace {

// A method that fills every per-item output of Result with numbers of its items, so that
// joining batches and resuming them can be checked field by field.
class EveryOutput : public Method {
 public:
  std::string name() const override { return "every-output"; }
  nlohmann::json config() const override {
    return {{"method", "every-output"}, {"options", nlohmann::json::object()}};
  }
  bool needs_input_gradient() const override { return false; }
  Result run(const Request& r) override {
    Result out;
    auto item = r.images.flatten(1).sum(1).unsqueeze(1);  // [n, 1], differs per item
    float k = 0;
    for (auto [name, t] : out.item_tensors()) *t = item.repeat({1, 2}) + k++;
    out.counterfactuals = r.images.clone();  // scored after the run: must be images
    out.saliency = r.images.mean(1, true);
    out.infilled = r.images.clone();
    out.edits.names = {"a", "b"};
    out.attribute_shift.names = {"c", "d"};
    return out;
  }
};

}  // namespace

// Every per-item output a method returns survives batching and resuming: explain() joins
// and BatchFiles stores each field of Result::item_tensors(), none by hand.
TEST(BatchStore, EveryPerItemOutputIsJoinedAndResumed) {
  auto dir = cfx::testing::temp_dir("batch_store_every") + "/batches";
  auto req = store_request(5);
  EveryOutput m;
  auto whole = explain(m, req, 5);
  auto batched = explain(m, req, 2, {dir, false});
  auto resumed = explain(m, req, 2, {dir, true});
  EXPECT_EQ(resumed.resumed_batches, 3);
  auto w = whole.result.item_tensors(), b = batched.result.item_tensors(),
       r = resumed.result.item_tensors();
  ASSERT_EQ(w.size(), b.size());
  for (size_t k = 0; k < w.size(); ++k) {
    ASSERT_TRUE(w[k].second->defined()) << w[k].first;
    EXPECT_EQ(w[k].second->size(0), 5) << w[k].first;
    EXPECT_TRUE(torch::equal(*w[k].second, *b[k].second)) << w[k].first;
    EXPECT_TRUE(torch::equal(*w[k].second, *r[k].second)) << w[k].first;
  }
  EXPECT_EQ(resumed.result.edits.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(resumed.result.attribute_shift.names, (std::vector<std::string>{"c", "d"}));
}

// Reads a batch with notices on; returns whether it loaded and what was said.
static std::pair<bool, std::string> load_and_say(const BatchStore& store, int64_t begin,
                                                 int64_t end) {
  const bool was_quiet = quiet();
  set_quiet(false);
  ::testing::internal::CaptureStderr();
  const bool loaded = store.load(begin, end).has_value();
  std::string said = ::testing::internal::GetCapturedStderr();
  set_quiet(was_quiet);
  return {loaded, said};
}

// A batch file carries a checksum of its archive: a torn or bit-flipped file is refused and
// its batch run again, never read back as numbers (a flipped byte in a tensor would load).
TEST(BatchStore, ACorruptedFileIsRunAgainNotRead) {
  auto dir = cfx::testing::temp_dir("batch_store_corrupt") + "/batches";
  auto req = store_request(2);
  auto pixel = make_method("pixel", {{"steps", 5}});
  explain(*pixel, req, 2, {dir, false});
  const std::string file = dir + "/000000-000002.pt";  // the name load(0, 2) reads
  const std::string sound = read_file(file);
  BatchStore store(dir, nlohmann::json::parse(read_file(dir + "/config.json")), /*resume=*/true);
  ASSERT_TRUE(store.load(0, 2).has_value());
  for (size_t at : {size_t{3}, size_t{20}, sound.size() / 2, sound.size() - 1}) {
    std::string bad = sound;
    bad[at] ^= 0x10;
    write_atomic(file, bad);
    auto [loaded, said] = load_and_say(store, 0, 2);
    EXPECT_FALSE(loaded) << "byte " << at;
    EXPECT_NE(said.find("running that batch again"), std::string::npos) << said;
  }
  write_atomic(file, sound.substr(0, sound.size() - 100));  // torn
  EXPECT_FALSE(load_and_say(store, 0, 2).first);
  // The fuzzer's input (fuzz_batch_file): LibTorch 1.13 read past a 16-byte buffer on it.
  fs::copy_file(
      std::string(CFX_SOURCE_DIR) + "/fuzz/corpus/batch_file/regression-trace-storage-past-its-end",
      file, fs::copy_options::overwrite_existing);
  auto [loaded, said] = load_and_say(store, 0, 2);
  EXPECT_FALSE(loaded);
  EXPECT_NE(said.find("not a cfx batch file"), std::string::npos) << said;
  write_atomic(file, sound);
  EXPECT_TRUE(store.load(0, 2).has_value());
}
