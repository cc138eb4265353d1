#include <gtest/gtest.h>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/shapes.h"
#include "cfx/eval/saliency_metrics.h"
#include "cfx/methods/saliency/infill.h"
#include "cfx/models/classifier.h"
#include "cfx/models/inpainter.h"
#include "cfx/report/npy.h"
#include "data/temp_dir.h"

using namespace cfx;

namespace {

Dataset shapes_test(int64_t n) {
  ShapesOptions o;
  o.split = "test";
  o.count = n;
  return generate_shapes(o);
}

}  // namespace

TEST(SaliencyMetrics, PointingGameAndIouOnHandMadeMaps) {
  auto masks = torch::zeros({2, 1, 4, 4});
  masks[0][0][1][1] = 1;
  masks[0][0][1][2] = 1;
  masks[1][0][3][3] = 1;
  auto maps = torch::zeros({2, 1, 4, 4});
  maps[0][0][1][2] = 1.0;  // on the object, and its second pixel next
  maps[0][0][1][1] = 0.5;
  maps[1][0][0][0] = 1.0;  // off the object
  auto pg = pointing_game(maps, masks);
  EXPECT_FLOAT_EQ(pg[0].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(pg[1].item<float>(), 0.f);
  auto iou = localisation_iou(maps, masks);
  EXPECT_FLOAT_EQ(iou[0].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(iou[1].item<float>(), 0.f);
}

// FIDO's localisation error: threshold at the mean, largest 4-connected component, box IoU.
TEST(SaliencyMetrics, LocalisationBoxIouOnHandMadeMaps) {
  const int64_t n = 7;
  auto masks = torch::zeros({n, 1, 10, 10});
  masks.slice(2, 2, 6).slice(3, 2, 6).fill_(1);  // object box [2, 6) x [2, 6)
  masks[6].zero_();                              // no object
  auto maps = torch::zeros({n, 1, 10, 10});
  maps[0][0].slice(0, 2, 6).slice(1, 2, 6).fill_(1);  // exactly the object
  maps[1][0].slice(0, 0, 2).fill_(1);                 // a band above it, bigger ...
  maps[1][0][8][8] = 1;                               // ... than this blob
  maps[2][0].slice(0, 2, 6).slice(1, 2, 6).fill_(1);  // the object and a far stray pixel:
  maps[2][0][9][9] = 1;                               // the component drops the stray pixel
  maps[3][0].slice(0, 2, 6).slice(1, 4, 8).fill_(1);  // shifted by 2 columns: IoU 8/24
  maps[4].fill_(0.3);                                 // constant: the whole image
  maps[5][0][0][0] = maps[5][0][1][1] = maps[5][0][2][2] = 1;  // diagonal: not 4-connected
  maps[5][0][3][3] = maps[5][0][3][4] = 1;                     // largest: [3, 4) x [3, 5)
  maps[6][0].slice(0, 2, 6).slice(1, 2, 6).fill_(1);
  auto iou = localisation_box_iou(maps, masks);
  ASSERT_EQ(iou.sizes(), (std::vector<int64_t>{n}));
  EXPECT_FLOAT_EQ(iou[0].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(iou[1].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(iou[2].item<float>(), 1.f);  // all on-pixels' box would give 16/64
  EXPECT_FLOAT_EQ(iou[3].item<float>(), 8.f / 24.f);
  EXPECT_FLOAT_EQ(iou[4].item<float>(), 16.f / 100.f);
  EXPECT_FLOAT_EQ(iou[5].item<float>(), 2.f / 16.f);  // box 1x2 inside the 4x4 object box
  EXPECT_FLOAT_EQ(iou[6].item<float>(), 0.f);
  auto err = localisation_errors(iou);
  EXPECT_TRUE(torch::equal(err, torch::tensor({0.f, 1.f, 0.f, 1.f, 1.f, 1.f, 1.f})));
  EXPECT_THROW(localisation_box_iou(maps, masks.slice(0, 0, 3)), Error);
}

TEST(SaliencyMetrics, RankCorrelationIsSpearmans) {
  auto a = torch::arange(16, torch::kFloat).view({1, 1, 4, 4});
  EXPECT_NEAR(map_rank_correlation(a, a * 3 + 1).item<float>(), 1.f, 1e-6);
  EXPECT_NEAR(map_rank_correlation(a, -a).item<float>(), -1.f, 1e-6);
  // Two flat maps have no ranking at all: 0, not a spurious 1.
  auto flat = torch::ones({1, 1, 4, 4});
  EXPECT_NEAR(map_rank_correlation(flat, flat).item<float>(), 0.f, 1e-6);
}

TEST(SaliencyMetrics, ObjectMaskBeatsItsInverseOnDeletionAndInsertion) {
  auto d = shapes_test(16);
  auto F = load_classifier(std::string(CFX_SOURCE_DIR) + "/models/shapes-cnn.pt");
  auto t = F->predict_proba(d.images).argmax(1);
  // The ground truth as a map vs its complement: deleting the object first must destroy p_c
  // faster, inserting it first must restore p_c faster.
  auto good = deletion_insertion(*F, d.images, d.masks, t, 16);
  auto bad = deletion_insertion(*F, d.images, 1 - d.masks, t, 16);
  EXPECT_EQ(good.deletion.sizes(), (std::vector<int64_t>{16, 17}));
  EXPECT_LT(good.deletion_auc.mean().item<double>(), bad.deletion_auc.mean().item<double>());
  EXPECT_GT(good.insertion_auc.mean().item<double>(), bad.insertion_auc.mean().item<double>());
  // Step 0 of deletion is x itself, the last step the blurred canvas.
  auto p = F->predict_proba(d.images).gather(1, t.unsqueeze(1)).squeeze(1);
  EXPECT_TRUE(torch::allclose(good.deletion.select(1, 0), p, 1e-4, 1e-5));
}

TEST(SaliencyMetrics, SaliencyMetricFollowsItsDefinition) {
  auto d = shapes_test(4);
  auto F = load_classifier(std::string(CFX_SOURCE_DIR) + "/models/shapes-cnn.pt");
  auto t = F->predict_proba(d.images).argmax(1);
  auto p = F->predict_proba(d.images).gather(1, t.unsqueeze(1)).squeeze(1).to(torch::kDouble);
  // A map over the whole image: a = 1, the crop is x itself, so the score is −log p_c(x).
  auto whole = saliency_metric(*F, d.images, torch::ones({4, 1, 32, 32}), t).to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(whole, -p.log(), 1e-4, 1e-4));
  // One salient pixel: the area is floored at 0.05, the crop is that pixel's colour.
  auto dot = torch::zeros({4, 1, 32, 32});
  dot.select(2, 5).select(2, 7).fill_(1);
  auto one = torch::zeros({4, 3, 32, 32}) + d.images.select(2, 5).select(2, 7).view({4, 3, 1, 1});
  auto pd = F->predict_proba(one).gather(1, t.unsqueeze(1)).squeeze(1).to(torch::kDouble);
  auto tiny = saliency_metric(*F, d.images, dot, t).to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(tiny, std::log(0.05) - pd.log(), 1e-3, 1e-3));
}

TEST(SaliencyMetrics, RandomizeWeightsChangesEveryWeightAndIsSeeded) {
  auto path = std::string(CFX_SOURCE_DIR) + "/models/shapes-cnn.pt";
  auto A = load_classifier(path), B = load_classifier(path), C = load_classifier(path);
  randomize_weights(*A, 3);
  randomize_weights(*B, 3);
  auto wa = A->weights(), wb = B->weights(), wc = C->weights();
  ASSERT_FALSE(wa.empty());
  for (size_t i = 0; i < wa.size(); ++i) {
    EXPECT_TRUE(torch::equal(wa[i], wb[i]));
    EXPECT_FALSE(torch::equal(wa[i], wc[i]));
  }
}

TEST(Infill, SimpleInfillersFillFromWhatTheyShould) {
  auto x = torch::rand({2, 3, 16, 16});
  auto keep = torch::ones({2, 1, 16, 16});
  keep.slice(2, 4, 8).slice(3, 4, 8).zero_();
  // A constant image is its own mean, blur and local mean.
  auto c = torch::full({2, 3, 16, 16}, 0.3);
  for (const auto& name : {"mean", "blur", "local"}) {
    auto f = make_infiller(name, InfillOptions{});
    EXPECT_TRUE(torch::allclose(f->infill(c, keep), c, 1e-5, 1e-5)) << name;
  }
  auto local = make_infiller("local", InfillOptions{})->infill(x, keep);
  EXPECT_EQ(local.sizes(), x.sizes());
  // local only averages known pixels: with the hole's pixels set to 100 the fill stays the same.
  auto poisoned = x.clone();
  poisoned.slice(2, 4, 8).slice(3, 4, 8).fill_(100);
  auto local2 = make_infiller("local", InfillOptions{})->infill(poisoned, keep);
  EXPECT_TRUE(torch::allclose(local.slice(2, 4, 8).slice(3, 4, 8),
                              local2.slice(2, 4, 8).slice(3, 4, 8), 1e-5, 1e-6));
  auto r = make_infiller("random", InfillOptions{})->infill(x, keep);
  EXPECT_GE(r.min().item<float>(), 0.f);
  EXPECT_LE(r.max().item<float>(), 1.f);
  // FIDO hands the random in-filler its noise: a colour per channel, then a value per pixel.
  auto rf = make_infiller("random", InfillOptions{});
  ASSERT_EQ(rf->noise_dim(3, 16, 16), 3 * (1 + 16 * 16));
  torch::manual_seed(1);
  auto z = torch::randn({2, 3 * (1 + 16 * 16)});
  auto s1 = rf->sample(x, keep, z);
  EXPECT_TRUE(torch::equal(s1, rf->sample(x, keep, z)));  // a function of its noise alone
  EXPECT_TRUE(torch::equal(s1[1], rf->sample(x.slice(0, 1), keep.slice(0, 1), z.slice(0, 1))[0]));
  EXPECT_FALSE(torch::equal(s1, rf->sample(x, keep, torch::randn_like(z))));
  // Zero pixel noise leaves the uniform colour Φ(z_c): 0.5 for z_c = 0, ~0.841 for z_c = 1.
  auto flat = torch::zeros_like(z);
  flat.select(1, 1).fill_(1);
  auto s0 = rf->sample(x, keep, flat);
  EXPECT_NEAR(s0[0][0].mean().item<float>(), 0.5f, 1e-6);
  EXPECT_NEAR(s0[0][1].mean().item<float>(), 0.8413f, 1e-4);
  EXPECT_THROW(rf->sample(x, keep, z.slice(1, 1)), Error);
  auto keep2 = random_infill_masks(64, 16, 16);
  EXPECT_TRUE(((keep2 == 0) | (keep2 == 1)).all().item<bool>());
  EXPECT_GT(keep2.mean().item<float>(), 0.2f);
  EXPECT_LT(keep2.mean().item<float>(), 0.9f);
}

// The shipped inpainters are FIDO's generative in-fillers: on held-out images with random
// masks they must reconstruct the missing pixels better than the simple in-fillers. On shapes
// (flat noisy backgrounds, where a local mean of known pixels is nearly optimal) the shipped
// inpainter beats blur and mean but only comes within 5% of local (docs/models.md); the test
// holds it to within 15% there, and to a clear win elsewhere.
TEST(Infill, ShippedInpaintersBeatLocalAndBlur) {
  for (const std::string name : {"shapes", "fashion-mnist", "mnist"}) {
    auto path = std::string(CFX_SOURCE_DIR) + "/models/" + name + "-inpainter.pt";
    DatasetOptions o;
    o.split = "test";
    o.limit = 300;
    auto d = load_dataset(name, o);
    torch::manual_seed(123);
    auto keep = random_infill_masks(d.size(), d.images.size(2), d.images.size(3));
    InfillOptions io;
    io.inpainter = path;
    double ours = infill_error(*make_infiller("inpainter", io), d.images, keep);
    double local = infill_error(*make_infiller("local", io), d.images, keep);
    double blur = infill_error(*make_infiller("blur", io), d.images, keep);
    double mean = infill_error(*make_infiller("mean", io), d.images, keep);
    EXPECT_LT(ours, blur) << name;
    EXPECT_LT(ours, mean) << name;
    if (std::string(name) == "shapes")
      EXPECT_LT(ours, 1.15 * local) << name;  // close to local, not below it (see above)
    else
      EXPECT_LT(ours, 0.75 * local) << name;
  }
}

TEST(Npy, RoundTripsAndHasNumpysHeader) {
  cfx::test::TempDir tmp("npy");
  auto dir = tmp.str();
  auto t = torch::rand({5, 7});
  write_npy(dir + "/a.npy", t);
  EXPECT_TRUE(torch::equal(read_npy(dir + "/a.npy"), t));
  auto v = torch::rand({3});
  write_npy(dir + "/v.npy", v);
  EXPECT_TRUE(torch::equal(read_npy(dir + "/v.npy"), v));
  // numpy itself reads it: shape, dtype and values.
  std::string cmd =
      std::string(CFX_PYTHON) + " -c \"import numpy as n; a=n.load('" + dir +
      "/a.npy'); assert a.shape==(5,7) and a.dtype==n.float32; print(float(a[4,6]))\"";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[64] = {0};
  ASSERT_NE(fgets(buf, sizeof buf, p), nullptr);
  EXPECT_EQ(pclose(p), 0);
  EXPECT_NEAR(std::stod(buf), t[4][6].item<double>(), 1e-6);
}

// Found by fuzz_npy: a header dimension too large for std::stoll escaped as std::out_of_range
// (an internal error), and a product of dimensions could overflow before the size check.
TEST(Npy, CorruptShapesAreUserErrors) {
  cfx::test::TempDir tmp("npy_corrupt");
  const std::string path = tmp.str() + "/a.npy";
  write_npy(path, torch::rand({2, 3}));
  const std::string good = cfx::read_file(path);
  const auto at = good.find("(2, 3)");
  ASSERT_NE(at, std::string::npos);
  for (const std::string shape : {"(28666666666666666666666, 3)", "(4294967296, 4294967296, 2)",
                                  "(3, 3)", "(0, 3)", "(0, 999999999999, 999999999999)"}) {
    std::string bytes = good;
    bytes.replace(at, 6, shape);
    // Keep the header length field equal to what follows it (bytes 8-9, little-endian).
    const size_t hlen = static_cast<unsigned char>(good[8]) +
                        (static_cast<size_t>(static_cast<unsigned char>(good[9])) << 8) +
                        shape.size() - 6;
    bytes[8] = static_cast<char>(hlen & 0xff);
    bytes[9] = static_cast<char>(hlen >> 8);
    cfx::write_atomic(path, bytes);
    EXPECT_THROW(read_npy(path), cfx::Error) << shape;
  }
  // An empty array is fine (found by CI's fuzz smoke: memcpy from a null data pointer).
  write_npy(path, torch::rand({0, 3}));
  EXPECT_EQ(read_npy(path).sizes(), torch::IntArrayRef({0, 3}));
}

// The shipped conditional-VAE inpainters: their samples differ from draw to draw, and one
// sample still fills the missing pixels closer to the truth than blur (and, on Fashion-MNIST,
// than local; on shapes' flat noisy backgrounds local stays ahead, as for the deterministic
// inpainter). Measured on 1000 test images: Fashion-MNIST spread 0.044, sample error 0.107 vs
// local 0.174 and blur 0.195; shapes 0.009, 0.050 vs 0.047 and 0.054 (docs/models.md).
TEST(Infill, ShippedCvaeInpaintersSampleAndFillPlausibly) {
  for (const std::string name : {"fashion-mnist", "shapes"}) {
    auto net =
        Inpainter::load(std::string(CFX_SOURCE_DIR) + "/models/" + name + "-inpainter-cvae.pt");
    ASSERT_GT(net->options().latent, 0) << name;
    DatasetOptions o;
    o.split = "test";
    o.limit = 300;
    auto d = load_dataset(name, o);
    torch::manual_seed(123);
    auto keep = random_infill_masks(d.size(), d.images.size(2), d.images.size(3));
    auto miss = (1 - keep).expand_as(d.images);
    const double n_miss = miss.sum().item<double>();
    auto z1 = torch::randn({d.size(), net->options().latent});
    auto z2 = torch::randn({d.size(), net->options().latent});
    torch::NoGradGuard ng;
    auto a = net->paint(d.images, keep, z1), b = net->paint(d.images, keep, z2);
    double spread = ((a - b).abs() * miss).sum().item<double>() / n_miss;
    double err = ((a - d.images).abs() * miss).sum().item<double>() / n_miss;
    double local = infill_error(*make_infiller("local", InfillOptions{}), d.images, keep);
    double blur = infill_error(*make_infiller("blur", InfillOptions{}), d.images, keep);
    EXPECT_LT(err, blur) << name;
    if (name == "fashion-mnist") {
      EXPECT_GT(spread, 0.02) << name;
      EXPECT_LT(err, 0.75 * local) << name;
    } else {
      EXPECT_GT(spread, 0.003) << name;
      EXPECT_LT(err, 1.15 * local) << name;
    }
  }
}

// The conditional-VAE inpainter (latent > 0): each painting is a sample. Trained briefly on
// shapes here, so only its mechanics are tested; how plausible its samples are is measured on
// the trained checkpoints (docs/models.md).
TEST(Infill, ConditionalVaeInpainterSamplesDifferWithTheirNoise) {
  auto d = shapes_test(400);
  InpainterOptions arch;
  arch.channels = 3;
  arch.width = 8;
  arch.latent = 4;
  auto net = std::make_shared<Inpainter>(arch);
  InpainterTrainOptions t;
  t.epochs = 1;
  t.batch_size = 50;
  auto report = net->train(d, d.head(50), t);
  EXPECT_TRUE(std::isfinite(report["test_l1_missing"].get<double>()));
  torch::manual_seed(5);
  auto x = d.images.slice(0, 0, 6);
  auto keep = random_infill_masks(6, 32, 32);
  auto miss = (1 - keep).expand_as(x);
  auto z1 = torch::randn({6, 4}), z2 = torch::randn({6, 4});
  auto a = net->paint(x, keep, z1), b = net->paint(x, keep, z2);
  EXPECT_TRUE(torch::equal(a, net->paint(x, keep, z1)));  // a draw is a function of its noise
  EXPECT_GT(((a - b).abs() * miss).sum().item<double>() / miss.sum().item<double>(), 1e-3);
  EXPECT_TRUE(torch::allclose(net->paint(x, keep), net->paint(x, keep, torch::zeros({6, 4}))));
  EXPECT_THROW(net->paint(x, keep, torch::randn({6, 3})), Error);
  // The in-filler interface hands FIDO the noise; a row's draw does not depend on its batch.
  auto f = make_inpainter_infiller(net);
  EXPECT_EQ(f->noise_dim(1, 32, 32), 4);
  auto one = f->sample(x.slice(0, 2, 3), keep.slice(0, 2, 3), z1.slice(0, 2, 3));
  EXPECT_TRUE(torch::allclose(one[0], a[2], 1e-5, 1e-6));
  EXPECT_EQ(make_infiller("blur", InfillOptions{})->noise_dim(1, 32, 32), 0);
  // Round trip: the latent size is in the sidecar; checkpoints without it load as latent 0.
  cfx::test::TempDir tmp("cvae_inpainter");
  net->save(tmp.str("cvae.pt"), nlohmann::json::object());
  auto back = Inpainter::load(tmp.str("cvae.pt"));
  EXPECT_EQ(back->options().latent, 4);
  EXPECT_TRUE(torch::allclose(back->paint(x, keep, z1), a, 1e-5, 1e-6));
  auto shipped = Inpainter::load(std::string(CFX_SOURCE_DIR) + "/models/shapes-inpainter.pt");
  EXPECT_EQ(shipped->options().latent, 0);
}
