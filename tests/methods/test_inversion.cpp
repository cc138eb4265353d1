// The inversion engine's pieces (per-item Adam, priors, loss terms, schedule) and the
// presets deepinv, dip, dip-aux and disc on a small classifier.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "cfx/core/error.h"
#include "cfx/eval/explain.h"
#include "cfx/methods/inversion/batched_adam.h"
#include "cfx/methods/inversion/inversion.h"
#include "cfx/methods/inversion/terms.h"
#include "cfx/methods/registry.h"
#include "helpers.h"

using namespace cfx;

namespace {

Request inversion_request(int64_t n, const std::string& arch = "cnn") {
  Request r;
  r.classifier = cfx::testing::toy_classifier(arch);
  r.images = cfx::testing::toy_dataset(n, 21).images;
  r.targets = (r.classifier->predict_proba(r.images).argmax(1) + 1) % 3;
  return r;
}

double validity(const Explanation& e) {
  return e.scores.valid.to(torch::kFloat).mean().item<double>();
}

InversionOptions quick(const std::string& preset) {
  auto o = InversionOptions::preset(preset);
  o.fit_steps = 300;
  return o;
}

}  // namespace

TEST(BatchedAdam, MatchesTorchAdamAndLeavesOtherRowsAlone) {
  torch::manual_seed(0);
  auto target = torch::randn({4, 3});
  auto p0 = torch::zeros({4, 3});
  BatchedAdam mine({p0.clone()}, {0.1});
  auto ref = p0.clone().set_requires_grad(true);
  torch::optim::Adam adam({ref}, torch::optim::AdamOptions(0.1));
  auto rows = torch::tensor({0, 2}, torch::kLong);
  for (int k = 0; k < 5; ++k) {
    auto g = mine.gather(rows);
    (g[0] - target.index_select(0, rows)).pow(2).sum().backward();
    mine.step(rows, g);
    adam.zero_grad();
    (ref - target).pow(2).sum().backward();
    adam.step();
  }
  auto p = mine.params()[0];
  // Equal up to float rounding (torch applies the bias corrections in another order).
  EXPECT_TRUE(
      torch::allclose(p.index_select(0, rows), ref.detach().index_select(0, rows), 1e-4, 1e-6));
  EXPECT_TRUE(torch::equal(p[1], torch::zeros({3})));
  EXPECT_TRUE(torch::equal(p[3], torch::zeros({3})));
}

TEST(BatchedAdam, KeepMaskFreezesRows) {
  BatchedAdam a({torch::zeros({3, 2})}, {0.5});
  auto idx = torch::arange(3, torch::kLong);
  auto g = a.gather(idx);
  g[0].sum().backward();
  a.step(idx, g, torch::tensor({true, false, true}));
  EXPECT_NE(a.params()[0][0][0].item<float>(), 0.f);
  EXPECT_EQ(a.params()[0][1][0].item<float>(), 0.f);
}

TEST(Priors, PixelReproducesTheQueryExactly) {
  auto x = cfx::testing::toy_dataset(3, 4).images;
  for (const char* param : {"clamp", "sigmoid"}) {
    PriorOptions o;
    o.param = param;
    auto prior = make_prior(o);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
    auto p = prior->init(x, gen);
    auto r = prior->render(p, torch::arange(3, torch::kLong));
    EXPECT_FALSE(prior->needs_fit());
    EXPECT_TRUE(torch::allclose(r, x, 0, 2e-3)) << param;
  }
}

// A fitted DIP or INR prior reproduces the query (the search starts from x, not from noise).
TEST(Priors, FittedDipAndInrReproduceTheQuery) {
  auto req = inversion_request(4);
  for (const char* prior : {"dip", "inr"}) {
    auto o = InversionOptions::preset("dip");
    o.prior.prior = prior;
    o.fit_steps = 600;
    o.fit_psnr = 28;
    o.steps = 1;
    o.validity = 0;  // no search: the result is the fitted image
    o.l1 = 0;
    auto r = Inversion("dip", o).run(req);
    EXPECT_GE(r.prior_psnr.min().item<float>(), 24.f) << prior;
    auto err = (r.counterfactuals - req.images).abs().mean().item<double>();
    EXPECT_LT(err, 0.04) << prior;
  }
}

// Above 127 pixels the DIP renders at a fraction of the query's side: 224 -> 2 (112x112).
TEST(Priors, DipScaleFollowsTheQuerySize) {
  EXPECT_EQ(dip_scale_for(0, 32, 32), 1);
  EXPECT_EQ(dip_scale_for(0, 127, 500), 1);
  EXPECT_EQ(dip_scale_for(0, 128, 128), 2);
  EXPECT_EQ(dip_scale_for(0, 224, 224), 2);
  EXPECT_EQ(dip_scale_for(0, 256, 300), 4);
  EXPECT_EQ(dip_scale_for(0, 512, 512), 8);
  EXPECT_EQ(dip_scale_for(3, 32, 32), 3);  // asked for: as given
  PriorOptions o;
  o.dip_scale = 17;
  EXPECT_THROW(o.validate(), Error);
  o.dip_scale = -1;
  EXPECT_THROW(o.validate(), Error);
}

// At dip_scale 2 the fit is at half size, the search starts from the query itself, and
// what the search changes is smooth at the render's resolution: the change is the bilinear
// upsampling of a half-size image (up to the clamp to [0, 1]), so a half-size image holds it.
TEST(Priors, DipBelowFullSizeStartsAtTheQueryAndChangesItSmoothly) {
  auto x = cfx::testing::toy_dataset(3, 4).images;  // [3, C, H, W], H and W even
  PriorOptions o;
  o.prior = "dip";
  o.dip_scale = 2;
  auto prior = make_prior(o);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto p = prior->init(x, gen);
  auto all = torch::arange(3, torch::kLong);
  auto small = prior->fit_render(p, all);
  EXPECT_EQ(small.size(2), x.size(2) / 2);
  EXPECT_EQ(small.size(3), x.size(3) / 2);
  EXPECT_TRUE(prior->fit_target(x).allclose(torch::avg_pool2d(x, 2)));
  prior->fitted(p);
  EXPECT_TRUE(torch::allclose(prior->render(p, all), x, 0, 1e-6));  // starts at the query
  // Move the weights of the last conv: the render changes, smoothly.
  auto q = p;
  q[10] = p[10] + 0.3 * torch::randn(p[10].sizes());
  auto change = prior->render(q, all) - x;
  EXPECT_GT(change.abs().mean().item<double>(), 1e-3);
  auto up =
      torch::upsample_bilinear2d(prior->fit_render(q, all) - small, {x.size(2), x.size(3)}, false);
  auto inside = ((x + up) > 0) & ((x + up) < 1);  // where the clamp does not act
  EXPECT_TRUE(change.masked_select(inside).allclose(up.masked_select(inside), 1e-4, 1e-5));
  // Item rows: rendering item 2 alone (its parameter rows) gives row 2.
  auto two = torch::tensor({2}, torch::kLong);
  std::vector<torch::Tensor> q2;
  for (auto& t : q) q2.push_back(t.index_select(0, two));
  auto one = prior->render(q2, two);
  EXPECT_LT((one[0] - prior->render(q, all)[2]).abs().max().item<double>(), 1e-5);
}

// The search with a half-size DIP still reaches its targets, and its counterfactuals stay
// close to the queries (they start there).
TEST(Presets, DiscWithDipBelowFullSizeReachesItsTargets) {
  auto req = inversion_request(6);
  auto o = quick("disc");
  o.prior.dip_scale = 2;
  Inversion m("disc", o);
  auto e = explain(m, req);
  EXPECT_GE(validity(e), 0.8);
  EXPECT_LT(e.scores.l1.mean().item<double>(), 0.3);
  EXPECT_EQ(m.config()["options"]["dip_scale"], 2);
}

TEST(Terms, FeatureConsistencyIsZeroAtTheQueryAndGrowsWithChange) {
  auto F = cfx::testing::toy_classifier("cnn");
  auto x = cfx::testing::toy_dataset(2, 5).images;
  auto ref = F->capture(x, {"stage1"}, false).features;
  auto same = feature_consistency(F->capture(x, {"stage1"}, false).features, ref);
  auto other = feature_consistency(F->capture(x.flip({3}), {"stage1"}, false).features, ref);
  EXPECT_LT(same.abs().max().item<float>(), 1e-6);
  EXPECT_GT(other.min().item<float>(), 0.05);
}

// The pre-image term (dip-aux's `feature`): zero at the query, and during a search toward
// another class it keeps x̄'s encoding at the layer closer to the query's than the same search
// without it.
TEST(Terms, PreImageTermIsZeroAtTheQueryAndPullsTheLayersEncoding) {
  auto req = inversion_request(6);
  auto ref = req.classifier->capture(req.images, {"stage1"}, false).features;
  auto term = [&](const torch::Tensor& img) {
    torch::NoGradGuard ng;
    return feature_consistency(req.classifier->capture(img, {"stage1"}, false).features, ref);
  };
  EXPECT_LT(term(req.images).abs().max().item<float>(), 1e-6);
  auto o = InversionOptions::preset("pixel");
  o.l1 = o.tv = 0;  // validity alone against validity + pre-image
  o.steps = o.min_steps = 80;
  o.feature_layers = {"stage1"};
  auto without = Inversion("pixel", o).run(req);
  o.feature = 5.0;
  auto with = Inversion("pixel", o).run(req);
  EXPECT_EQ(with.steps.min().item<int64_t>(), 80);  // the whole budget: min_steps = steps
  auto t_without = term(without.counterfactuals), t_with = term(with.counterfactuals);
  EXPECT_GT(t_without.mean().item<double>(), 0.0);
  EXPECT_LT(t_with.mean().item<double>(), 0.7 * t_without.mean().item<double>())
      << "with " << t_with << " without " << t_without;
}

// min_steps: a valid item keeps running (and its terms keep acting) until it has run this many
// steps; without it, it stops at its first valid step.
TEST(Presets, MinStepsKeepsAValidItemRunning) {
  auto req = inversion_request(4);
  auto o = quick("dip");
  o.steps = 120;
  auto a = Inversion("dip", o).run(req);
  o.min_steps = 80;
  auto b = Inversion("dip", o).run(req);
  for (int64_t i = 0; i < 4; ++i) {
    if (!a.converged[i].item<bool>()) continue;
    EXPECT_LT(a.steps[i].item<int64_t>(), 80) << "item " << i;
    if (b.converged[i].item<bool>()) EXPECT_GE(b.steps[i].item<int64_t>(), 80) << "item " << i;
  }
  EXPECT_GT(b.converged.sum().item<int64_t>(), 0);
  EXPECT_EQ(InversionOptions::preset("dip-aux").min_steps, 100);
  EXPECT_GT(InversionOptions::preset("dip-aux").feature, 0);
  EXPECT_THROW(InversionOptions::from_json({{"min_steps", -1}}, "dip"), Error);
}

// DeepInversion's prior: optimising it alone moves the BN-input statistics toward the
// running statistics.
TEST(Terms, BnPriorDrivesStatisticsTowardTheRunningOnes) {
  auto F = cfx::testing::toy_classifier("cnn");
  auto layers = F->bn_layers();
  ASSERT_FALSE(layers.empty());
  auto x = (torch::rand({2, 1, 12, 12}) * 0.2 + 0.8).set_requires_grad(true);
  auto bn_of = [&](const torch::Tensor& t) {
    return bn_statistics_prior(F->capture(t, {}, true).bn_inputs, layers);
  };
  auto before = bn_of(x).detach();
  torch::optim::Adam opt({x}, torch::optim::AdamOptions(0.02));
  for (int k = 0; k < 100; ++k) {
    opt.zero_grad();
    bn_of(x).sum().backward();
    opt.step();
  }
  auto after = bn_of(x).detach();
  EXPECT_LT(after.max().item<float>(), 0.5 * before.min().item<float>());
}

TEST(Terms, ValidityHingeStopsPushingAtTheStageProbability) {
  auto logp = torch::log(torch::tensor({{0.2, 0.8}, {0.6, 0.4}}));
  auto t = torch::tensor({0, 0}, torch::kLong);
  auto h = validity_hinge(logp, t, torch::tensor({0.5, 0.5}));
  EXPECT_NEAR(h[0].item<float>(), std::log(0.5 / 0.2), 1e-5);
  EXPECT_EQ(h[1].item<float>(), 0.f);
}

TEST(Terms, LowpassGradientKeepsValuesAndAveragesGradients) {
  auto x = torch::rand({1, 1, 8, 8}, torch::requires_grad());
  auto y = lowpass_gradient(x, 4);
  EXPECT_TRUE(torch::equal(y, x));
  (y * torch::rand({1, 1, 8, 8})).sum().backward();
  auto g = x.grad();
  // Constant within each 4x4 block, different between blocks.
  EXPECT_NEAR((g.slice(2, 0, 4).slice(3, 0, 4) - g[0][0][0][0]).abs().max().item<float>(), 0, 1e-6);
  EXPECT_GT((g[0][0][0][0] - g[0][0][4][4]).abs().item<float>(), 0);
}

TEST(Presets, RegistryHasTheWholeInversionFamily) {
  for (const auto& name : inversion_presets()) {
    auto m = make_method(name);
    EXPECT_EQ(m->name(), name);
    EXPECT_EQ(m->config()["method"], name);
  }
  EXPECT_EQ(make_method("disc")->config()["options"]["prior"], "dip");
  EXPECT_EQ(make_method("disc", {{"prior", "inr"}})->config()["options"]["prior"], "inr");
  EXPECT_THROW(make_method("disc", {{"prior", "gan"}}), Error);
  EXPECT_THROW(make_method("disc", {{"stages", {0.5, 0.3}}}), Error);
  EXPECT_THROW(make_method("dip", {{"fit_psnr", -1}}), Error);
  // Lists also come as "a,b" strings from --set.
  auto m = make_method("disc", {{"stages", "0.4,0.8"}, {"feature_layers", "conv1,fc1"}});
  EXPECT_EQ(m->config()["options"]["stages"], nlohmann::json({0.4, 0.8}));
  EXPECT_EQ(m->config()["options"]["feature_layers"], nlohmann::json({"conv1", "fc1"}));
  auto o = InversionOptions::from_json({{"bn", 0.3}}, "deepinv");
  EXPECT_EQ(InversionOptions::from_json(o.to_json(), "deepinv").to_json(), o.to_json());
}

TEST(Presets, DeepinvDipAndDiscReachTheirTargets) {
  auto req = inversion_request(6);
  for (const char* preset : {"deepinv", "dip", "disc"}) {
    Inversion m(preset, quick(preset));
    auto e = explain(m, req);
    EXPECT_GE(validity(e), 0.8) << preset;
    EXPECT_LT(e.scores.l1.mean().item<double>(), 0.3) << preset;
  }
}

TEST(Presets, DiscWithInrPriorAndCoarseStagesWorks) {
  auto req = inversion_request(4);
  auto o = quick("disc");
  o.prior.prior = "inr";
  Inversion m("disc", o);
  auto e = explain(m, req);
  EXPECT_GE(validity(e), 0.75);
}

// Each progressive stage's image reaches that stage's probability, and the stages of one item
// form a morph: the last stage is the counterfactual.
TEST(Presets, DiscStagesReachTheirProbabilities) {
  auto req = inversion_request(5);
  auto o = quick("disc");
  Inversion m("disc", o);
  auto r = m.run(req);
  ASSERT_TRUE(r.stage_images.defined());
  ASSERT_EQ(r.stage_images.size(1), 4);
  int64_t checked = 0;
  for (int64_t i = 0; i < 5; ++i) {
    if (!r.converged[i].item<bool>()) continue;
    ++checked;
    auto p = req.classifier->predict_proba(r.stage_images[i]);
    auto t = req.targets[i].item<int64_t>();
    for (int64_t s = 0; s < 4; ++s)
      EXPECT_GE(p[s][t].item<double>(), o.stages[s] - 1e-4) << "item " << i << " stage " << s;
    EXPECT_TRUE(torch::equal(r.stage_images[i][3], r.counterfactuals[i]));
  }
  EXPECT_GT(checked, 2);
}

TEST(Presets, AValidDipItemStopsChanging) {
  auto req = inversion_request(4);
  auto o = quick("dip");
  o.steps = 60;
  auto a = Inversion("dip", o).run(req);
  o.steps = 200;
  auto b = Inversion("dip", o).run(req);
  int64_t checked = 0;
  for (int64_t i = 0; i < 4; ++i) {
    if (!a.converged[i].item<bool>()) continue;
    ++checked;
    EXPECT_EQ(a.steps[i].item<int64_t>(), b.steps[i].item<int64_t>());
    EXPECT_TRUE(torch::equal(a.counterfactuals[i], b.counterfactuals[i]));
  }
  EXPECT_GT(checked, 0);
}

TEST(Presets, SameSeedSameDipOutput) {
  auto req = inversion_request(3);
  req.seed = 9;
  auto o = quick("dip");
  o.steps = 30;
  auto a = Inversion("dip", o).run(req), b = Inversion("dip", o).run(req);
  EXPECT_TRUE(torch::equal(a.counterfactuals, b.counterfactuals));
}

// Terms that cannot apply are dropped (with a notice) unless the user asked for them.
TEST(Presets, TermsThatCannotApplyAreDroppedOrRejected) {
  auto req = inversion_request(2, "mlp");  // no batch norm, no heads
  auto deepinv = make_method("deepinv", {{"steps", 20}});
  EXPECT_NO_THROW(deepinv->run(req));
  auto explicit_bn = make_method("pixel", {{"bn", 0.1}, {"steps", 20}});
  EXPECT_THROW(explicit_bn->run(req), Error);
  auto disc = make_method("disc", {{"steps", 20}, {"fit_steps", 20}});
  EXPECT_NO_THROW(disc->run(req));  // no DUQ head: BN prior; no BN: off
  auto explicit_duq = make_method("disc", {{"duq", 1.0}, {"steps", 5}, {"fit_steps", 5}});
  EXPECT_THROW(explicit_duq->run(req), Error);
  try {
    make_method("dip-aux", {{"steps", 5}, {"fit_steps", 5}})->run(req);
    FAIL() << "dip-aux ran without a loss head";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--head loss --init MODEL --head-only"), std::string::npos)
        << e.what();
  }
}

// The manifold-consistency terms alone: optimising −log K_t raises the DUQ kernel of the target
// class, optimising ŝ lowers the loss estimator's prediction.
TEST(Terms, DuqAndLossHeadTermsPullImagesTowardTheData) {
  for (std::string head : {"duq", "loss"}) {
    Request req;
    req.classifier = cfx::testing::toy_classifier("cnn", head);
    req.images = torch::rand({6, 1, 12, 12}) * 0.4 + 0.3;  // off the toy data
    req.targets = req.classifier->predict_proba(req.images).argmax(1);
    auto o = InversionOptions::preset("pixel");
    o.validity = o.l1 = o.tv = 0;
    o.steps = 80;
    o.confidence = 0.999999;  // run every step
    (head == "duq" ? o.duq : o.loss_head) = 1.0;
    auto r = Inversion("pixel", o).run(req);
    torch::NoGradGuard ng;
    auto before = req.classifier->capture(req.images, {}, false);
    auto after = req.classifier->capture(r.counterfactuals, {}, false);
    if (head == "duq") {
      auto t = req.targets.unsqueeze(1);
      EXPECT_GT(after.duq.gather(1, t).mean().item<float>(),
                before.duq.gather(1, t).mean().item<float>() + 0.05);
    } else {
      EXPECT_LT(after.loss_estimate.mean().item<float>(),
                0.8 * before.loss_estimate.mean().item<float>());
    }
  }
}
