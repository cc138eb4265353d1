// AIP (METHODS.md §4) on images: the conditional VAE (training, attribute control, checkpoint
// checks) and the method through the shipped shapes models.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/data/dataset.h"
#include "cfx/eval/evaluate.h"
#include "cfx/eval/explain.h"
#include "cfx/methods/aip/aip.h"
#include "cfx/models/cvae.h"
#include "cfx/report/result_json.h"
#include "cli/cli_runner.h"
#include "helpers.h"
#include "models/reads_one_attribute.h"

using namespace cfx;

namespace {

Dataset shapes(const std::string& split, int64_t n) {
  DatasetOptions o;
  o.split = split;
  o.shapes_count = n;
  return load_dataset("shapes", o);
}

// The first n shapes test images for the shipped shapes classifier, each targeting the class
// after the one it predicts.
Request shapes_cnn_request(int64_t n) {
  Request req;
  req.classifier = load_classifier(cfx::testing::shipped_model("shapes-cnn.pt"));
  req.images = shapes("test", n).images;
  req.targets = (req.classifier->predict_proba(req.images).argmax(1) + 1) % 3;
  return req;
}

// [N] bool: whether attribute k's change ([N, K] absolute changes) is nonzero and the largest
// of its row, ties within 1e-3 counted (a colour swap moves red and its partner by the same
// amount, up to D's reading of x, within 1e-3 of 0 or 1).
torch::Tensor largest_change_is(const torch::Tensor& change, int64_t k) {
  auto ck = change.select(1, k);
  return (ck >= std::get<0>(change.max(1)) - 1e-3) & (ck > 0);
}

std::shared_ptr<AttributeClassifier> shipped_attributes() {
  return load_attribute_classifier(cfx::testing::shipped_model("shapes-attributes.pt"));
}

}  // namespace

// Six epochs on 3000 images: the reconstruction error falls, G(z, a') shows the requested
// attributes far above chance, and the checkpoint round-trips. (The shipped cvae's
// reconstructions are checked in CliAip.) A small cvae needs a few hundred steps before it both
// reconstructs and obeys a: after 72 steps the attribute term still dominated (reconstruction
// 0.078, worse than the untrained decoder's 0.040); 282 steps at lr 2e-3 measured 0.012 and control
// 0.99 (seed 2).
TEST(Cvae, LearnsToShowRequestedAttributesAndRoundTrips) {
  set_quiet(true);
  auto D = shipped_attributes();
  VaeOptions vo;
  vo.channels = 3;
  vo.height = vo.width = 32;
  vo.latent = 8;
  vo.width_mult = 16;
  Cvae cvae(vo, D->names());
  auto train = shapes("train", 3000), test = shapes("test", 300);
  auto recon_mse = [&] {
    torch::NoGradGuard ng;
    auto a = D->probs(test.images);
    return (cvae.decode(cvae.encode(test.images, a), a) - test.images).pow(2).mean().item<double>();
  };
  const double untrained = recon_mse();
  CvaeTrainOptions to;
  to.epochs = 6;
  to.lr = 2e-3;
  to.seed = 2;
  auto report = cvae.train(train, test, *D, to);
  EXPECT_NEAR(report["test_recon_mse"].get<double>(), recon_mse(), 1e-6);
  EXPECT_LT(report["test_recon_mse"].get<double>(), 0.5 * untrained) << report.dump();
  // Chance for a changed attribute is at most 0.5; a decoder that ignored a would get ~0.
  EXPECT_GT(report["attribute_control"]["changed"].get<double>(), 0.8) << report.dump();

  auto dir = cfx::testing::temp_dir("cvae");
  cvae.save(dir + "/c.pt", {{"attributes", "nowhere.pt"}});
  auto back = Cvae::load(dir + "/c.pt");
  torch::NoGradGuard ng;
  auto x = test.images.slice(0, 0, 4);
  auto a = D->probs(x);
  EXPECT_TRUE(
      torch::allclose(back->decode(back->encode(x, a), a), cvae.decode(cvae.encode(x, a), a)));
  EXPECT_EQ(back->attributes(), D->names());
  EXPECT_THROW(back->decode(torch::zeros({2, 8}), torch::zeros({2, 3})), Error);
  EXPECT_THROW(Cvae::load(cfx::testing::shipped_model("shapes-vae.pt")), Error);
  // Its sidecar names an attribute classifier that does not exist.
  EXPECT_THROW(load_aip_models(dir + "/c.pt", "", nullptr), Error);
}

// The realism term (issue 14 part 2c): a patch discriminator against G's edits makes them
// sharper. The shipped shapes cvae's edits have 0.56-0.60 of the real images' gradient
// magnitude (a VAE blurs); one seeded epoch of fine-tuning on 800 images with realism 100
// raises it, where the same epoch without the term does not. (Measured 2026-12-02, seed 3:
// 0.571 without, 0.599 with; through the CLI on 2000 images 0.604 vs 0.675, reconstruction
// unchanged; at realism 1 the term is too small against the summed reconstruction BCE to act,
// at 1000 it over-sharpens to 1.9 and leaks attributes.) The report's numbers are checked too.
TEST(Cvae, RealismTermSharpensEdits) {
  set_quiet(true);
  auto D = shipped_attributes();
  auto train = shapes("train", 800), test = shapes("test", 300);
  auto tune = [&](double realism, double critic_lr = 0) {
    auto cvae = Cvae::load(cfx::testing::shipped_model("shapes-cvae.pt"));
    CvaeTrainOptions to;
    to.epochs = 1;
    to.batch_size = 16;
    to.seed = 3;
    to.realism = realism;
    to.critic_lr = critic_lr;
    return cvae->train(train, test, *D, to);
  };
  auto plain = tune(0), real = tune(100), ahead = tune(100, 4e-3);
  EXPECT_FALSE(plain.contains("discriminator_accuracy"));
  const double acc = real["discriminator_accuracy"].get<double>();
  std::printf("sharpness %.3f without realism, %.3f with (discriminator accuracy %.3f)\n",
              plain["sharpness"].get<double>(), real["sharpness"].get<double>(), acc);
  EXPECT_TRUE(acc >= 0 && acc <= 1) << acc;
  EXPECT_GT(plain["sharpness"].get<double>(), 0.3) << plain.dump();
  EXPECT_GT(real["sharpness"].get<double>(), plain["sharpness"].get<double>() + 0.01)
      << real.dump() << "\n"
      << plain.dump();
  EXPECT_LT(real["test_recon_mse"].get<double>(), 1.2 * plain["test_recon_mse"].get<double>());
  // The training curve: one point per epoch, its loss the report's, the realism terms only
  // where they were trained.
  ASSERT_EQ(real["curve"].size(), 1u);
  EXPECT_DOUBLE_EQ(real["curve"][0]["loss"].get<double>(), real["train_loss"].get<double>());
  EXPECT_GT(real["curve"][0]["reconstruction"].get<double>(), 0);
  EXPECT_GT(real["curve"][0]["critic"].get<double>(), 0);
  EXPECT_FALSE(plain["curve"][0].contains("realism"));
  // The critic's own learning rate (the two time-scale rule): 0 means G's, bitwise, and any
  // other rate trains a different critic. That a 4x faster critic pulls ahead of G is not
  // claimed: in this one epoch it does not (critic loss 1.388 vs 1.385, accuracy 0.500 vs
  // 0.507; docs/models.md), and the 8-epoch seeds that would show it are not yet run.
  auto same = tune(100, CvaeTrainOptions().lr);
  std::printf("critic loss %.3f at G's lr, %.3f at 4e-3; accuracy %.3f, %.3f\n",
              real["curve"][0]["critic"].get<double>(), ahead["curve"][0]["critic"].get<double>(),
              acc, ahead["discriminator_accuracy"].get<double>());
  EXPECT_EQ(same["curve"][0]["critic"], real["curve"][0]["critic"]);
  EXPECT_EQ(same["discriminator_accuracy"], real["discriminator_accuracy"]);
  EXPECT_NE(ahead["curve"][0]["critic"], real["curve"][0]["critic"]);
  CvaeTrainOptions bad;
  bad.realism = -1;
  EXPECT_THROW(bad.validate(), Error);
  bad.realism = 1;
  bad.critic_lr = std::nan("");
  EXPECT_THROW(bad.validate(), Error);
  bad.critic_lr = 4e-3;
  EXPECT_NO_THROW(bad.validate());
  EXPECT_EQ(bad.to_json()["critic_lr"], 4e-3);
}

// The claim in its simplest form: with only the attributes free to move and a classifier that
// reads "red", the search changes red (and, through the colour group, another colour), and
// leaves shape, size, position and background where D saw them.
// With the proximal gradient step (attribute_step = "gradient", the default) the claim is NOT
// met, and this test was committed disabled: red was the largest change in 30-63% of items
// with every shapes cvae tried, because at a0 the slope of F's loss is largest in red for only
// 25% of items (docs/claims-aip.md). The greedy step probes each attribute's whole one-factor
// edit instead, and moves a colour group as one swap (2026-12-04: red the largest change, ties
// with its swap partner counted, in 39 of these 40 items).
TEST(Aip, AttributesOnlySearchChangesTheAttributeTheClassifierReads) {
  set_quiet(true);
  auto D = shipped_attributes();
  auto F = std::make_shared<cfx::testing::ReadsOneAttribute>(D, "red");
  auto test = shapes("test", 40);
  AipOptions o;
  o.cvae = cfx::testing::shipped_model("shapes-cvae.pt");
  o.optimise = "a";
  o.search.steps = 150;
  o.search.attribute_step = "greedy";
  AipCounterfactual m(o);
  Request req;
  req.classifier = F;
  req.images = test.images;
  req.targets = 1 - F->predict_proba(test.images).argmax(1);
  auto r = m.run(req);
  const auto& s = r.attribute_shift;
  ASSERT_TRUE(s.defined());
  EXPECT_EQ(s.names, D->names());
  auto change = (s.after - s.before).abs();
  auto red = D->index_of("red");
  // Red counts as the largest change when it moved and none moved more by over 1e-3.
  auto largest = largest_change_is(change, red);
  double red_largest = largest.to(torch::kFloat).mean().item<double>();
  EXPECT_GT(red_largest, 0.9);
  EXPECT_GT(r.converged.to(torch::kFloat).mean().item<double>(), 0.8);
  for (const char* a : {"circle", "square", "triangle", "large", "left", "top", "light_background"})
    EXPECT_LT(change.select(1, D->index_of(a)).mean().item<double>(), 0.05) << a;
  // Direction: items whose target is "red" gain red, the others lose it.
  auto gained = (s.after.select(1, red) > s.before.select(1, red));
  EXPECT_TRUE(torch::equal(gained.masked_select(r.converged),
                           (req.targets == 1).masked_select(r.converged)));
  EXPECT_EQ(r.reconstruction.sizes(), test.images.sizes());
  EXPECT_EQ(r.counterfactuals.sizes(), test.images.sizes());
}

// The same claim on MNIST, F reading "thickness" through the MNIST attribute classifier. MNIST's
// height is constant, so the shipped cvae never saw its code change; left free, both steps
// move it (and area) and thickness is the largest change for only 17 (gradient) and 34
// (greedy) of these 40 items. With height held at D's reading (`edit` naming the other four) it
// is the largest for 34 and 40 (120 items: 107 / 118 and 117 / 118; docs/claims-aip.md,
// "Attributes the data never varies").
TEST(Aip, AttributesOnlySearchOnMnistNamesThicknessOnceHeightIsHeld) {
  set_quiet(true);
  auto D = load_attribute_classifier(cfx::testing::shipped_model("mnist-attributes.pt"));
  auto F = std::make_shared<cfx::testing::ReadsOneAttribute>(D, "thickness");
  DatasetOptions dopt;
  dopt.split = "test";
  dopt.limit = 40;
  Request req;
  req.classifier = F;
  req.images = load_dataset("mnist", dopt).images;
  req.targets = 1 - F->predict_proba(req.images).argmax(1);
  const auto k = D->index_of("thickness");
  // Items that needed a search whose largest attribute change is thickness, and how many
  // needed one.
  auto thickness_largest = [&](const std::string& step, const std::string& edit) {
    AipOptions o;
    o.cvae = cfx::testing::shipped_model("mnist-cvae.pt");
    o.optimise = "a";
    o.search.steps = 150;
    o.search.attribute_step = step;
    o.edit = edit;
    auto r = AipCounterfactual(o).run(req);
    const auto& s = r.attribute_shift;
    auto largest = largest_change_is((s.after - s.before).abs(), k) & (r.steps > 0);
    if (!edit.empty())
      EXPECT_TRUE(torch::equal(s.after.select(1, D->index_of("height")),
                               s.before.select(1, D->index_of("height"))));
    EXPECT_GT(r.converged.to(torch::kFloat).mean().item<double>(), 0.95) << step << edit;
    return std::make_pair(largest.sum().item<int64_t>(), (r.steps > 0).sum().item<int64_t>());
  };
  auto [free_gradient, n] = thickness_largest("gradient", "");
  ASSERT_GE(n, 38);
  const std::string no_height = "area,thickness,slant,width";
  auto held_gradient = thickness_largest("gradient", no_height).first;
  auto held_greedy = thickness_largest("greedy", no_height).first;
  EXPECT_GE(held_gradient, 0.8 * n) << held_gradient << " of " << n;
  EXPECT_GE(held_greedy, 0.9 * n) << held_greedy << " of " << n;
  EXPECT_GT(held_gradient, free_gradient + 0.2 * n) << free_gradient << " free";
}

// Through explain(): items do not depend on their batch, and the same seed repeats the run.
TEST(Aip, BatchedItemsMatchSingleItemsAndOptionsAreChecked) {
  set_quiet(true);
  auto req = shapes_cnn_request(6);
  auto F = req.classifier;
  AipOptions o;
  o.search.steps = 60;
  AipCounterfactual m(o);
  auto all = explain(m, req, 6);
  auto one = explain(m, req, 1);
  EXPECT_TRUE(torch::allclose(all.result.counterfactuals, one.result.counterfactuals, 1e-4, 1e-5));
  EXPECT_TRUE(torch::equal(all.result.steps, one.result.steps));
  EXPECT_EQ(all.config["options"]["cvae"].get<std::string>(),
            cfx::testing::shipped_model("shapes-cvae.pt"));
  // The greedy step's probes are per item too.
  o.search.attribute_step = "greedy";
  AipCounterfactual greedy(o);
  auto g_all = explain(greedy, req, 6), g_one = explain(greedy, req, 1);
  EXPECT_TRUE(
      torch::allclose(g_all.result.counterfactuals, g_one.result.counterfactuals, 1e-4, 1e-5));
  EXPECT_TRUE(torch::equal(g_all.result.steps, g_one.result.steps));
  EXPECT_EQ(g_all.config["options"]["attribute_step"].get<std::string>(), "greedy");

  EXPECT_THROW(AipOptions::from_json({{"optimise", "w"}}), Error);
  EXPECT_THROW(AipOptions::from_json({{"alpha", -1}}), Error);
  EXPECT_THROW(AipOptions::from_json({{"gamma", 1}}), Error);
  EXPECT_THROW(AipOptions::from_json({{"attribute_step", "sideways"}}), Error);
  EXPECT_EQ(AipOptions::from_json({{"edit", "slant"}}).to_json()["edit"], "slant");
  EXPECT_EQ(describe_attribute_changes({"slant", "area", "width"}, torch::tensor({0.1, 0.5, 0.5}),
                                       torch::tensor({0.52, 0.49, 0.2})),
            "slant +0.42, width -0.30");
}

// What AIP says beyond a*: D's reading of the counterfactual (which an entangled generator can
// make differ from the code it was given) and F's decision on the reconstruction, so items that
// needed no search can be told apart; result.json carries both and the validity without them.
TEST(Aip, ReportsWhatDReadsAndWhichReconstructionsAlreadyHadTheTarget) {
  set_quiet(true);
  auto req = shapes_cnn_request(24);
  auto F = req.classifier;
  auto D = shipped_attributes();
  AipOptions o;
  o.search.steps = 40;
  AipCounterfactual m(o);
  auto e = explain(m, req, 8);
  const auto& s = e.result.attribute_shift;
  ASSERT_TRUE(s.read.defined() && s.base_class.defined());
  EXPECT_EQ(s.read.sizes(), s.after.sizes());
  EXPECT_TRUE(torch::allclose(s.read, D->probs(e.result.counterfactuals), 1e-4, 1e-5));
  auto p_rec = F->predict_proba(e.result.reconstruction);
  EXPECT_TRUE(torch::equal(s.base_class, p_rec.argmax(1)));
  EXPECT_TRUE(torch::allclose(s.base_target_prob,
                              p_rec.gather(1, req.targets.unsqueeze(1)).squeeze(1), 1e-4, 1e-5));
  // The shipped cvae's reconstructions change some decisions: those items stop at step 0.
  auto already = s.base_class.eq(req.targets) & s.base_target_prob.ge(o.search.confidence);
  EXPECT_TRUE(torch::equal(e.result.steps.masked_select(already),
                           torch::zeros({already.sum().item<int64_t>()}, torch::kLong)));
  EXPECT_TRUE(e.result.steps.masked_select(~already).gt(0).all().item<bool>());

  auto doc = write_explain_outputs("", *F, req.images, req.targets,
                                   std::vector<std::string>(24, "x"), e, nlohmann::json::object());
  const auto& sum = doc["summary"];
  const int64_t n_already = s.base_class.eq(req.targets).sum().item<int64_t>();
  EXPECT_EQ(sum["searched_items"].get<int64_t>(), 24 - n_already);
  EXPECT_NEAR(sum["reconstruction_already_target_rate"].get<double>(), n_already / 24.0, 1e-9);
  auto valid = e.scores.valid.masked_select(s.base_class.ne(req.targets));
  if (valid.numel())
    EXPECT_NEAR(sum["validity_searched"].get<double>(),
                valid.to(torch::kDouble).mean().item<double>(), 1e-9);
  const auto& item = doc["items"][0];
  EXPECT_EQ(item["reconstruction_already_target"].get<bool>(),
            s.base_class[0].item<int64_t>() == req.targets[0].item<int64_t>());
  EXPECT_NEAR(item["attribute_changes"][0]["read"].get<double>(),
              s.read[0][D->index_of(item["attribute_changes"][0]["attribute"].get<std::string>())]
                  .item<double>(),
              1e-6);
  EXPECT_TRUE(item.contains("attribute_summary_read"));

  // cfx eval: the flag per item, the rates without those items in the summary only (a rate
  // of an item that was left out would be NaN).
  EvalOptions eo;
  eo.methods = {"aip"};
  eo.method_options = {{"aip", {{"steps", 40}}}};
  eo.batch_size = 8;
  auto ev = evaluate(req, eo).at(0);
  EXPECT_TRUE(torch::equal(ev.per_item.at("reconstruction_already_target"),
                           s.base_class.eq(req.targets).to(torch::kFloat32)));
  EXPECT_FALSE(ev.per_item.count("validity_searched"));
  if (24 - n_already > 0) {
    EXPECT_EQ(ev.summary["validity_searched"]["n"].get<int64_t>(), 24 - n_already);
    EXPECT_NEAR(ev.summary["validity_searched"]["mean"].get<double>(),
                sum["validity_searched"].get<double>(), 1e-9);
  }
}

// The cvae's one-attribute requests: each changes exactly one of D's units — an exclusive
// group moves to another member and stays one-hot, a lone attribute flips — and keeps the rest.
TEST(Cvae, OneUnitRequestsChangeOneGroupOrAttributeAndKeepTheRest) {
  auto D = shipped_attributes();
  auto hard = (D->probs(shapes("test", 200).images) > 0.5).to(torch::kFloat);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  auto [req, unit] = one_unit_requests(hard, *D, gen);
  ASSERT_EQ(req.sizes(), hard.sizes());
  EXPECT_TRUE(torch::equal(req.masked_select(~unit), hard.masked_select(~unit)));
  auto exclusive = D->exclusive();
  int singles = 0, groups = 0;
  for (int64_t i = 0; i < req.size(0); ++i) {
    auto idx = unit[i].nonzero().flatten();
    ASSERT_GE(idx.numel(), 1);
    auto before = hard[i].index_select(0, idx), after = req[i].index_select(0, idx);
    EXPECT_FALSE(torch::equal(before, after)) << "item " << i;
    if (idx.numel() == 1) {
      ++singles;
      EXPECT_EQ(after.item<float>(), 1 - before.item<float>());
    } else {
      ++groups;
      EXPECT_EQ(after.sum().item<float>(), 1.f);  // one member on
      // the unit is exactly one exclusive group
      auto k = idx[0].item<int64_t>();
      EXPECT_EQ(exclusive[k].sum().item<int64_t>() + 1, idx.numel());
    }
  }
  EXPECT_GT(singles, 50);  // 7 units on shapes: 2 groups of 3, 5 lone attributes
  EXPECT_GT(groups, 10);
  EXPECT_THROW(one_unit_requests(torch::zeros({2, 3}), *D, gen), Error);
}
