#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "cfx/core/error.h"
#include "cfx/data/shapes.h"
#include "data/temp_dir.h"

namespace {

using cfx::test::error_of;

// Factor columns (shapes_factor_names).
enum { kShape, kColour, kRadius, kX, kY, kRotation, kBackground };

cfx::ShapesOptions opts(int64_t count, uint64_t seed = 0, const std::string& split = "train") {
  cfx::ShapesOptions o;
  o.count = count;
  o.seed = seed;
  o.split = split;
  return o;
}

TEST(Shapes, SameSeedSameDataDifferentSeedOrSplitDifferentData) {
  auto a = cfx::generate_shapes(opts(64, 7));
  auto b = cfx::generate_shapes(opts(64, 7));
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.masks, b.masks));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_TRUE(torch::equal(a.attributes, b.attributes));
  EXPECT_TRUE(torch::equal(a.factors, b.factors));

  auto c = cfx::generate_shapes(opts(64, 8));
  EXPECT_FALSE(torch::equal(a.factors, c.factors));

  // Train and test: no test item reproduces any train item (factors compared pairwise).
  auto train = cfx::generate_shapes(opts(300, 7, "train"));
  auto test = cfx::generate_shapes(opts(300, 7, "test"));
  auto d = torch::cdist(train.factors.select(1, kX).view({-1, 1}).to(torch::kFloat64),
                        test.factors.select(1, kX).view({-1, 1}).to(torch::kFloat64));
  EXPECT_EQ(d.eq(0).sum().item<int64_t>(), 0);
  EXPECT_EQ(test.split, "test");
  EXPECT_EQ(test.sources.at(4), "shapes:test:4");

  // A smaller count is a prefix of a larger one.
  EXPECT_TRUE(torch::equal(train.images.slice(0, 0, 64), cfx::generate_shapes(opts(64, 7)).images));
}

TEST(Shapes, ImagesMasksAttributesAndFactorsAgree) {
  auto ds = cfx::generate_shapes(opts(400, 3));
  const int64_t n = ds.size();
  ASSERT_EQ(ds.images.sizes(), (std::vector<int64_t>{n, 3, 32, 32}));
  ASSERT_EQ(ds.masks.sizes(), (std::vector<int64_t>{n, 1, 32, 32}));
  ASSERT_EQ(ds.attributes.sizes(), (std::vector<int64_t>{n, 11}));
  ASSERT_EQ(ds.factors.sizes(), (std::vector<int64_t>{n, 7}));
  EXPECT_EQ(ds.attribute_names, cfx::shapes_attribute_names());
  EXPECT_GE(ds.images.min().item<float>(), 0.0f);
  EXPECT_LE(ds.images.max().item<float>(), 1.0f);
  EXPECT_TRUE(ds.masks.eq(0).logical_or(ds.masks.eq(1)).all().item<bool>());
  EXPECT_TRUE(ds.attributes.eq(0).logical_or(ds.attributes.eq(1)).all().item<bool>());
  // Exactly one shape and one colour attribute, matching the factors.
  auto shape_attr = ds.attributes.slice(1, 0, 3);
  auto colour_attr = ds.attributes.slice(1, 3, 6);
  EXPECT_TRUE(shape_attr.sum(1).eq(1).all().item<bool>());
  EXPECT_TRUE(colour_attr.sum(1).eq(1).all().item<bool>());
  EXPECT_TRUE(torch::equal(shape_attr.argmax(1), ds.factors.select(1, kShape).to(torch::kInt64)));
  EXPECT_TRUE(torch::equal(colour_attr.argmax(1), ds.factors.select(1, kColour).to(torch::kInt64)));
  // Rule "shape" (the default): label = shape.
  EXPECT_TRUE(torch::equal(ds.labels, shape_attr.argmax(1)));
  // Binary attributes are neither constant nor degenerate.
  auto rate = ds.attributes.mean(0);
  for (int k : {6, 7, 8, 10}) {
    EXPECT_GT(rate[k].item<float>(), 0.3f) << ds.attribute_names[k];
    EXPECT_LT(rate[k].item<float>(), 0.7f) << ds.attribute_names[k];
  }
  EXPECT_GT(rate[9].item<float>(), 0.2f);  // rotated: 2/3 of squares and triangles

  // Circles are never rotated; large means a radius above the middle of its range.
  auto circle = ds.attributes.select(1, 0).eq(1);
  EXPECT_EQ(ds.attributes.select(1, 9).masked_select(circle).sum().item<float>(), 0.0f);
  EXPECT_TRUE(
      torch::equal(ds.attributes.select(1, 6).eq(1), ds.factors.select(1, kRadius).gt(0.225)));
  EXPECT_TRUE(torch::equal(ds.attributes.select(1, 7).eq(1), ds.factors.select(1, kX).lt(0.5)));

  for (int64_t i = 0; i < n; ++i) {
    const auto img = ds.images[i];
    const auto mask = ds.masks[i][0].eq(1);
    const float bg = ds.factors[i][kBackground].item<float>();
    const int64_t colour = ds.factors[i][kColour].item<int64_t>();
    ASSERT_GT(mask.sum().item<int64_t>(), 5) << i;
    // Object fully inside: the mask never touches the border.
    EXPECT_EQ(ds.masks[i][0].select(0, 0).sum().item<float>() +
                  ds.masks[i][0].select(0, 31).sum().item<float>() +
                  ds.masks[i][0].select(1, 0).sum().item<float>() +
                  ds.masks[i][0].select(1, 31).sum().item<float>(),
              0.0f)
        << i;
    // Mask pixels are far from the background; their dominant channel is the object colour.
    auto diff = (img - bg).abs().amax(0);
    EXPECT_GT(diff.masked_select(mask).min().item<float>(), 0.2f) << i;
    auto mean_rgb = img.view({3, -1}).index({torch::indexing::Slice(), mask.view(-1)}).mean(1);
    EXPECT_EQ(mean_rgb.argmax().item<int64_t>(), colour) << i;
    // Outside the mask: background (plus noise and antialiased edge pixels).
    auto far = diff.masked_select(mask.logical_not()).lt(0.1).to(torch::kFloat32).mean();
    EXPECT_GT(far.item<float>(), 0.85f) << i;
    // Circle area within 20% of pi r^2.
    if (ds.factors[i][kShape].item<int64_t>() == 0) {
      const double r = ds.factors[i][kRadius].item<float>() * 32.0;
      EXPECT_NEAR(mask.sum().item<int64_t>(), M_PI * r * r, 0.2 * M_PI * r * r) << i;
    }
  }
}

TEST(Shapes, ClassRules) {
  auto o = opts(300, 11);
  o.rule = "colour";
  auto ds = cfx::generate_shapes(o);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_TRUE(torch::equal(ds.labels, ds.attributes.slice(1, 3, 6).argmax(1)));

  o.rule = "shape-colour";
  ds = cfx::generate_shapes(o);
  ASSERT_EQ(ds.num_classes(), 9);
  EXPECT_EQ(ds.class_names[0], "red circle");
  EXPECT_EQ(ds.class_names[5], "blue square");
  EXPECT_TRUE(torch::equal(ds.labels, ds.attributes.slice(1, 0, 3).argmax(1) * 3 +
                                          ds.attributes.slice(1, 3, 6).argmax(1)));

  o.rule = "red-circle";
  o.count = 2000;
  ds = cfx::generate_shapes(o);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"other", "red circle"}));
  const float positive = ds.labels.to(torch::kFloat32).mean().item<float>();
  EXPECT_GT(positive, 0.4f);
  EXPECT_LT(positive, 0.6f);
  auto red_circle = ds.attributes.select(1, 0).eq(1).logical_and(ds.attributes.select(1, 3).eq(1));
  EXPECT_TRUE(torch::equal(ds.labels.eq(1), red_circle));
  // The negatives still contain circles and red things, so neither alone decides the class.
  auto neg = ds.labels.eq(0);
  EXPECT_GT(ds.attributes.select(1, 0).masked_select(neg).sum().item<float>(), 50.0f);
  EXPECT_GT(ds.attributes.select(1, 3).masked_select(neg).sum().item<float>(), 50.0f);

  o.rule = "size";
  auto msg = error_of([&] { cfx::generate_shapes(o); });
  EXPECT_NE(msg.find("unknown shapes rule 'size'; known rules: shape, colour, shape-colour, "
                     "red-circle"),
            std::string::npos)
      << msg;
}

TEST(Shapes, OptionsAreValidated) {
  auto bad = [](auto change) {
    cfx::ShapesOptions o;
    change(o);
    return error_of([&] { o.validate(); });
  };
  EXPECT_NE(bad([](auto& o) { o.max_radius = 0.6; }).find("max_radius = 0.6"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.min_radius = 0.3, o.max_radius = 0.2; }).find("max_radius"),
            std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.size = 4; }).find("size = 4"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.max_radius = 0.48; }).find("leaves no room"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.count = 0; }).find("count = 0"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.noise = -1; }).find("noise"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.colour_jitter = std::nan(""); }).find("colour_jitter"),
            std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.split = "val"; }).find("'val'"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.count = 100000000; }).find("GiB"), std::string::npos);
  cfx::ShapesOptions ok;
  EXPECT_NO_THROW(ok.validate());
}

}  // namespace
