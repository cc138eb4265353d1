// TorchScript classifiers: the models are exported by scripts/export_torchscript.py (untrained,
// --epochs 0) with Debian's python3-torch; the tests are skipped where it is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/models/torchscript_classifier.h"

namespace fs = std::filesystem;

namespace {

const std::string kScript = std::string(CFX_SOURCE_DIR) + "/scripts/export_torchscript.py";
const fs::path kDir = fs::path(CFX_BINARY_DIR) / "test-models" / "torchscript";

std::string model_path(const std::string& name) { return (kDir / (name + ".pt")).string(); }

// Exports the test models once; reuses them while they are newer than the script.
// Returns "" on success, else why the tests must be skipped or fail.
const std::string& export_models() {
  static const std::string status = [] {
    bool fresh = true;
    for (auto name : {"scripted", "traced", "scripted_nometa", "traced_nometa", "reference"}) {
      auto p = model_path(name);
      fresh = fresh && fs::exists(p) && fs::last_write_time(p) >= fs::last_write_time(kScript);
    }
    if (fresh) return std::string();
    if (std::system(CFX_PYTHON " -c 'import torch' > /dev/null 2>&1") != 0)
      return std::string("skip: ") + CFX_PYTHON + " cannot import torch";
    // Export into a private folder, then rename the files into place: tests run by
    // `ctest -j` in parallel processes never see a half-written model.
    std::string tmp = kDir.string() + ".tmp." + std::to_string(getpid());
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    fs::create_directories(kDir);
    std::string cmd = std::string(CFX_PYTHON) + " " + kScript + " --out " + tmp +
                      " --epochs 0 --no-meta > " + (kDir / "export.log").string() + " 2>&1";
    if (std::system(cmd.c_str()) != 0) return "fail: " + cmd + " (see export.log)";
    for (auto& e : fs::directory_iterator(tmp)) fs::rename(e.path(), kDir / e.path().filename());
    fs::remove_all(tmp);
    return std::string();
  }();
  return status;
}

#define REQUIRE_MODELS()                                \
  do {                                                  \
    const auto& st = export_models();                   \
    if (st.rfind("skip: ", 0) == 0) GTEST_SKIP() << st; \
    ASSERT_TRUE(st.empty()) << st;                      \
  } while (0)

struct Reference {
  torch::Tensor input, logits;
};

Reference reference() {
  auto m = torch::jit::load(model_path("reference"));
  return {m.attr("input").toTensor(), m.attr("logits").toTensor()};
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const cfx::Error& e) {
    return e.what();
  }
  return "<no cfx::Error>";
}

class TorchScript : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    REQUIRE_MODELS();
    cfx::set_quiet(true);
    path_ = model_path(GetParam());
    clf_ = std::dynamic_pointer_cast<cfx::TorchScriptClassifier>(
        cfx::load_torchscript_classifier(path_, {}));
    ASSERT_TRUE(clf_);
  }
  std::string path_;
  std::shared_ptr<cfx::TorchScriptClassifier> clf_;
};

TEST_P(TorchScript, ReadsMetadataFromCfxJson) {
  const auto& info = clf_->info();
  EXPECT_EQ(info.arch, "torchscript");
  EXPECT_EQ(info.source, path_);
  EXPECT_EQ(info.input_shape, (std::vector<int64_t>{1, 28, 28}));
  ASSERT_EQ(clf_->num_classes(), 10);
  EXPECT_EQ(clf_->class_names().front(), "T-shirt/top");
  EXPECT_EQ(clf_->class_names().back(), "Ankle boot");
  ASSERT_EQ(info.mean.size(), 1u);
  ASSERT_EQ(info.std.size(), 1u);
  EXPECT_DOUBLE_EQ(info.mean[0], 0.2860);
  EXPECT_DOUBLE_EQ(info.std[0], 0.3530);
  EXPECT_EQ(clf_->device(), torch::Device(torch::kCPU));
  int64_t n = 0;
  for (const auto& p : clf_->module().parameters()) n += p.numel();
  EXPECT_EQ(clf_->num_parameters(), n);
  EXPECT_EQ(n, 12698);  // the export script's SmallResNet
}

TEST_P(TorchScript, LogitsMatchPyTorch) {
  auto ref = reference();
  auto y = clf_->logits(ref.input);
  ASSERT_EQ(y.sizes(), ref.logits.sizes());
  EXPECT_TRUE(torch::allclose(y, ref.logits, 1e-4, 1e-4))
      << (y - ref.logits).abs().max().item<float>();
  auto p = clf_->predict_proba(ref.input);
  EXPECT_TRUE(torch::allclose(p.sum(1), torch::ones({ref.input.size(0)}), 1e-5, 1e-5));
}

// An item's logits, input gradient and captured layers do not depend on its batch, bitwise
// (core/batch_invariance.h: LibTorch convolves a CPU batch of one on another backend).
TEST_P(TorchScript, EachItemGetsTheSameNumbersInAnyBatch) {
  auto x = torch::rand({4, 1, 28, 28}, torch::Generator(at::detail::createCPUGenerator(2)));
  auto numbers = [&](const torch::Tensor& b) {
    auto v = b.clone().requires_grad_(true);
    auto c = clf_->capture(v, {"stem", "layer1.0.conv1"}, true);
    torch::log_softmax(c.logits, 1).select(1, 3).sum().backward();
    std::vector<torch::Tensor> parts = {c.logits.detach(), v.grad().flatten(1),
                                        c.features.at("stem").detach().flatten(1),
                                        c.features.at("layer1.0.conv1").detach().flatten(1)};
    for (auto& [n, t] : c.bn_inputs) parts.push_back(t.detach().flatten(1));
    return torch::cat(parts, 1);
  };
  auto all = numbers(x);
  for (int64_t i = 0; i < x.size(0); ++i) {
    auto one = numbers(x.slice(0, i, i + 1));
    EXPECT_TRUE(torch::equal(one[0], all[i]))
        << "item " << i << " differs by " << (one[0] - all[i]).abs().max().item<float>();
    EXPECT_TRUE(torch::equal(clf_->logits(x.slice(0, i, i + 1))[0], all[i].slice(0, 0, 10)));
  }
}

TEST_P(TorchScript, ListsBatchNormLayersWithTheirRunningStats) {
  auto bns = clf_->bn_layers();
  std::vector<std::string> names;
  for (auto& bn : bns) names.push_back(bn.name);
  EXPECT_EQ(names, (std::vector<std::string>{"stem.1", "layer1.0.bn1", "layer1.0.bn2"}));
  std::map<std::string, torch::Tensor> buffers;
  for (const auto& b : clf_->module().named_buffers()) buffers[b.name] = b.value;
  for (auto& bn : bns) {
    ASSERT_TRUE(bn.running_mean.defined() && bn.running_var.defined()) << bn.name;
    EXPECT_TRUE(torch::equal(bn.running_mean, buffers.at(bn.name + ".running_mean"))) << bn.name;
    EXPECT_TRUE(torch::equal(bn.running_var, buffers.at(bn.name + ".running_var"))) << bn.name;
    EXPECT_EQ(bn.running_mean.sizes(), (std::vector<int64_t>{16}));
  }
}

TEST_P(TorchScript, FeatureLayersAreModulePathsInForwardOrder) {
  auto layers = clf_->feature_layers();
  const std::vector<std::string> expected = {"stem.0",
                                             "stem.1",
                                             "stem.2",
                                             "stem.3",
                                             "stem",
                                             "layer1.0.conv1",
                                             "layer1.0.bn1",
                                             "layer1.0.conv2",
                                             "layer1.0.bn2",
                                             "layer1.0",
                                             "layer1",
                                             "pool",
                                             "fc"};
  EXPECT_EQ(layers, expected);
}

TEST_P(TorchScript, CaptureReturnsFeaturesBatchNormInputsAndTheSameLogits) {
  auto x = reference().input;
  auto cap = clf_->capture(x, {"stem.0", "stem.1", "stem.2", "layer1.0", "layer1", "fc"}, true);
  EXPECT_TRUE(torch::allclose(cap.logits, clf_->logits(x), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(cap.features.at("fc"), cap.logits));
  EXPECT_EQ(cap.features.at("stem.0").sizes(), (std::vector<int64_t>{4, 16, 28, 28}));
  EXPECT_EQ(cap.features.at("layer1.0").sizes(), (std::vector<int64_t>{4, 16, 14, 14}));
  EXPECT_TRUE(torch::equal(cap.features.at("layer1"), cap.features.at("layer1.0")));
  // stem.2 is ReLU(inplace=True) on stem.1's output: stem.1 must be captured before it.
  EXPECT_LT(cap.features.at("stem.1").min().item<float>(), 0.f);
  EXPECT_TRUE(torch::equal(cap.features.at("stem.2"), torch::relu(cap.features.at("stem.1"))));

  auto bns = clf_->bn_layers();
  ASSERT_EQ(cap.bn_inputs.size(), bns.size());
  for (auto& bn : bns) {
    const auto& in = cap.bn_inputs.at(bn.name);
    ASSERT_EQ(in.dim(), 4) << bn.name;
    EXPECT_EQ(in.size(0), 4);
    EXPECT_EQ(in.size(1), bn.running_mean.size(0)) << bn.name;
  }
  EXPECT_TRUE(torch::equal(cap.bn_inputs.at("stem.1"), cap.features.at("stem.0")));
  // Recomputing BN from its input and running stats reproduces the captured stem.1 output.
  auto sub = clf_->module().attr("stem").toModule().attr("1").toModule();
  auto bn = bns[0];
  auto manual = torch::batch_norm(cap.bn_inputs.at("stem.1"), sub.attr("weight").toTensor(),
                                  sub.attr("bias").toTensor(), bn.running_mean, bn.running_var,
                                  false, 0.1, 1e-5, false);
  EXPECT_TRUE(torch::allclose(manual, cap.features.at("stem.1"), 1e-5, 1e-5));

  // Without features or BN inputs, capture is just logits.
  auto plain = clf_->capture(x, {}, false);
  EXPECT_TRUE(plain.features.empty() && plain.bn_inputs.empty());
  EXPECT_TRUE(torch::allclose(plain.logits, cap.logits, 1e-6, 1e-6));
}

TEST_P(TorchScript, GradientsFlowFromCapturedValuesToTheInput) {
  auto x = reference().input.clone().requires_grad_(true);
  auto cap = clf_->capture(x, {"layer1.0"}, true);
  auto g1 = torch::autograd::grad({cap.features.at("layer1.0").pow(2).sum()}, {x},
                                  /*grad_outputs=*/{}, /*retain_graph=*/true)[0];
  EXPECT_GT(g1.abs().sum().item<float>(), 0.f);
  auto g2 =
      torch::autograd::grad({cap.bn_inputs.at("layer1.0.bn2").pow(2).sum()}, {x}, {}, true)[0];
  EXPECT_GT(g2.abs().sum().item<float>(), 0.f);
  auto g3 = torch::autograd::grad({cap.logits.select(1, 3).sum()}, {x})[0];
  EXPECT_GT(g3.abs().sum().item<float>(), 0.f);
  // Same gradient through logits() and through the instrumented graph.
  auto x2 = reference().input.clone().requires_grad_(true);
  auto g4 = torch::autograd::grad({clf_->logits(x2).select(1, 3).sum()}, {x2})[0];
  EXPECT_TRUE(torch::allclose(g3, g4, 1e-5, 1e-6));
  // Repeated calls reuse the cached function and stay correct.
  auto again = clf_->capture(x.detach(), {"layer1.0"}, true);
  EXPECT_TRUE(torch::equal(again.features.at("layer1.0"), cap.features.at("layer1.0").detach()));
}

TEST_P(TorchScript, UnknownLayerAndBadInputAreUserErrors) {
  auto x = reference().input;
  auto msg = error_of([&] { clf_->capture(x, {"layer9"}, false); });
  EXPECT_NE(msg.find("unknown layer 'layer9'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("stem.0"), std::string::npos) << msg;
  EXPECT_THROW(clf_->logits(torch::zeros({2, 3, 28, 28})), cfx::Error);
  EXPECT_THROW(clf_->logits(torch::zeros({28, 28})), cfx::Error);
}

TEST_P(TorchScript, ArchiveWithoutMetadataNeedsTheInputShape) {
  auto path = model_path(GetParam() + "_nometa");
  auto msg = error_of([&] { cfx::load_torchscript_classifier(path, {}); });
  EXPECT_NE(msg.find("--input-shape"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;

  cfx::ClassifierOverrides ov;
  ov.input_shape = {1, 28, 28};
  auto clf = cfx::load_torchscript_classifier(path, ov);
  EXPECT_EQ(clf->input_shape(), ov.input_shape);
  ASSERT_EQ(clf->num_classes(), 10);
  EXPECT_EQ(clf->class_names()[0], "0");
  EXPECT_EQ(clf->class_names()[9], "9");
  EXPECT_TRUE(clf->info().mean.empty() && clf->info().std.empty());
  EXPECT_EQ(clf->bn_layers().size(), 3u);
  // Without normalisation, logits() sees the input as given.
  auto ref = reference();
  auto xn = (ref.input - 0.2860) / 0.3530;
  EXPECT_TRUE(torch::allclose(clf->logits(xn), ref.logits, 1e-4, 1e-4));

  // A wrong shape fails at load time with a one-line message.
  ov.input_shape = {3, 28, 28};
  msg = error_of([&] { cfx::load_torchscript_classifier(path, ov); });
  EXPECT_NE(msg.find("--input-shape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("channels"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST_P(TorchScript, OverridesWinOverCfxJson) {
  cfx::ClassifierOverrides ov;
  for (int i = 0; i < 10; ++i) ov.class_names.push_back("c" + std::to_string(i));
  ov.mean = {0.5};
  ov.std = {0.25};
  auto clf = cfx::load_torchscript_classifier(path_, ov);
  EXPECT_EQ(clf->class_names(), ov.class_names);
  EXPECT_EQ(clf->info().mean, ov.mean);
  EXPECT_EQ(clf->info().std, ov.std);
  EXPECT_EQ(clf->input_shape(), (std::vector<int64_t>{1, 28, 28}));

  ov = {};
  ov.mean = {0.1, 0.2};
  EXPECT_NE(error_of([&] { cfx::load_torchscript_classifier(path_, ov); }).find("mean"),
            std::string::npos);
  ov = {};
  ov.class_names = {"a", "b"};
  EXPECT_NE(error_of([&] { cfx::load_torchscript_classifier(path_, ov); }).find("10 logits"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(ScriptedAndTraced, TorchScript, ::testing::Values("scripted", "traced"),
                         [](const auto& info) { return info.param; });

TEST(TorchScriptFiles, MissingTextAndEmptyFilesAreUserErrors) {
  auto dir = fs::temp_directory_path() / "cfx_test_torchscript";
  fs::create_directories(dir);
  auto text = (dir / "model.txt").string();
  auto empty = (dir / "empty.pt").string();
  std::ofstream(text) << "this is not a model\n";
  std::ofstream(empty).close();

  auto msg = error_of([&] { cfx::load_torchscript_classifier((dir / "nope.pt").string(), {}); });
  EXPECT_EQ(msg, "model file not found: " + (dir / "nope.pt").string());
  for (auto& p : {text, empty}) {
    msg = error_of([&] { cfx::load_torchscript_classifier(p, {}); });
    EXPECT_EQ(msg, "cannot load model " + p + ": not a TorchScript archive or cfx checkpoint");
  }
  msg = error_of([&] { cfx::load_torchscript_classifier(dir.string(), {}); });
  EXPECT_NE(msg.find("folder"), std::string::npos) << msg;
  fs::remove_all(dir);
}

// Modules built in C++ (no Python needed) for the odd cases.
std::string save_module(const std::string& name, const std::string& src,
                        const std::map<std::string, torch::Tensor>& buffers = {}) {
  torch::jit::Module m(name);
  for (auto& [k, v] : buffers) m.register_buffer(k, v);
  m.define(src);
  auto dir = fs::temp_directory_path() / "cfx_test_torchscript_cpp";
  fs::create_directories(dir);
  auto path = (dir / (name + ".pt")).string();
  m.save(path);
  return path;
}

TEST(TorchScriptFiles, ForwardMustTakeOneInputAndReturnOneTensor) {
  cfx::set_quiet(true);
  cfx::ClassifierOverrides ov;
  ov.input_shape = {1, 4, 4};
  auto tuple = save_module("tuple", "def forward(self, x):\n  return (x.flatten(1), x)\n");
  auto msg = error_of([&] { cfx::load_torchscript_classifier(tuple, ov); });
  EXPECT_NE(msg.find("returns a tuple"), std::string::npos) << msg;
  auto dict = save_module("dict", "def forward(self, x):\n  return {'a': x}\n");
  msg = error_of([&] { cfx::load_torchscript_classifier(dict, ov); });
  EXPECT_NE(msg.find("returns a dict"), std::string::npos) << msg;
  auto flat = save_module("flat", "def forward(self, x):\n  return x.flatten()\n");
  msg = error_of([&] { cfx::load_torchscript_classifier(flat, ov); });
  EXPECT_NE(msg.find("[N, num_classes]"), std::string::npos) << msg;
  auto two = save_module("two", "def forward(self, x, y):\n  return x.flatten(1)\n");
  msg = error_of([&] { cfx::load_torchscript_classifier(two, ov); });
  EXPECT_NE(msg.find("one argument"), std::string::npos) << msg;
}

TEST(TorchScriptFiles, GraphsWithoutSubmodulesNameFeaturesByNodeKind) {
  cfx::set_quiet(true);
  torch::manual_seed(0);
  auto path = save_module("flat_bn",
                          "def forward(self, x):\n"
                          "  y = torch.conv2d(x, self.w)\n"
                          "  z = torch.batch_norm(y, None, None, self.rm, self.rv, False, 0.1, "
                          "1e-5, False)\n"
                          "  return torch.relu(z).mean([2, 3])\n",
                          {{"w", torch::randn({3, 1, 3, 3})},
                           {"rm", torch::randn({3})},
                           {"rv", torch::rand({3}) + 0.5}});
  cfx::ClassifierOverrides ov;
  ov.input_shape = {1, 6, 6};
  auto clf = cfx::load_torchscript_classifier(path, ov);
  EXPECT_EQ(clf->num_classes(), 3);
  EXPECT_EQ(clf->feature_layers(), (std::vector<std::string>{"aten::conv2d#0", "aten::batch_norm#0",
                                                             "aten::relu#0", "aten::mean#0"}));
  auto bns = clf->bn_layers();
  ASSERT_EQ(bns.size(), 1u);
  EXPECT_EQ(bns[0].name, "batch_norm#0");
  auto x = torch::rand({2, 1, 6, 6}).requires_grad_(true);
  auto cap = clf->capture(x, {"aten::conv2d#0", "aten::relu#0"}, true);
  EXPECT_TRUE(torch::equal(cap.bn_inputs.at("batch_norm#0"), cap.features.at("aten::conv2d#0")));
  EXPECT_EQ(cap.features.at("aten::relu#0").sizes(), (std::vector<int64_t>{2, 3, 4, 4}));
  auto g = torch::autograd::grad({cap.features.at("aten::relu#0").sum()}, {x})[0];
  EXPECT_GT(g.abs().sum().item<float>(), 0.f);
}

}  // namespace
