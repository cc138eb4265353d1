// The shapes renderer as an exact generator: scenes re-render the dataset bit for bit, and an
// intervention sets its attribute and no other, leaving the pixels it does not concern alone.
#include <gtest/gtest.h>

#include "cfx/core/error.h"
#include "cfx/data/shapes.h"
#include "cfx/data/shapes_scenes.h"
#include "data/temp_dir.h"

namespace {

using cfx::test::error_of;

cfx::ShapesOptions opts(int64_t count, const std::string& split, const std::string& rule,
                        int64_t size = 32) {
  cfx::ShapesOptions o;
  o.count = count;
  o.split = split;
  o.rule = rule;
  o.size = size;
  o.seed = 5;
  return o;
}

// Attributes of the same group: the three shapes, the three colours, or the attribute alone.
bool same_group(int64_t a, int64_t b) {
  if (a < 3 && b < 3) return true;
  if (a >= 3 && a < 6 && b >= 3 && b < 6) return true;
  return a == b;
}

}  // namespace

TEST(ShapesScenes, RenderTheDatasetBitForBit) {
  for (auto [split, rule, size] :
       {std::tuple<const char*, const char*, int64_t>{"test", "shape", 32},
        {"train", "red-circle", 20}}) {
    auto o = opts(96, split, rule, size);
    auto ds = cfx::generate_shapes(o);
    auto scenes = cfx::shapes_scenes(o);
    ASSERT_EQ(scenes.size(), 96);
    EXPECT_TRUE(torch::equal(cfx::render_shapes(scenes), ds.images)) << split << " " << rule;
    EXPECT_TRUE(torch::equal(cfx::shapes_scene_attributes(scenes), ds.attributes));
    // Rows in any order and any subset render the same images: each carries its noise stream.
    auto pick = torch::tensor({7, 3, 90}, torch::kLong);
    cfx::ShapesScenes some = scenes;
    some.scenes = scenes.scenes.index_select(0, pick);
    some.items = scenes.items.index_select(0, pick);
    EXPECT_TRUE(torch::equal(cfx::render_shapes(some), ds.images.index_select(0, pick)));
  }
}

TEST(ShapesScenes, AnInterventionSetsItsAttributeAndNoOther) {
  auto o = opts(400, "test", "shape");
  auto scenes = cfx::shapes_scenes(o);
  auto before = cfx::shapes_scene_attributes(scenes);
  torch::Tensor masks;
  auto images = cfx::render_shapes(scenes, &masks);
  EXPECT_TRUE(torch::equal(masks, cfx::generate_shapes(o).masks));
  for (int64_t k = 0; k < 11; ++k) {
    for (bool on : {true, false}) {
      auto edited = cfx::intervene_shapes(scenes, k, on);
      auto after = cfx::shapes_scene_attributes(edited);
      SCOPED_TRACE("attribute " + std::to_string(k) + (on ? " on" : " off"));
      EXPECT_TRUE(after.select(1, k).eq(on ? 1.0f : 0.0f).all().item<bool>());
      for (int64_t j = 0; j < 11; ++j) {
        if (!same_group(j, k))
          EXPECT_TRUE(torch::equal(after.select(1, j), before.select(1, j))) << "leaked into " << j;
      }
      // Scenes already in the requested state are untouched, to the pixel.
      auto had = before.select(1, k).eq(on ? 1.0f : 0.0f);
      torch::Tensor new_masks;
      auto redrawn = cfx::render_shapes(edited, &new_masks);
      EXPECT_TRUE(torch::equal(redrawn.index({had}), images.index({had})));
      EXPECT_TRUE(torch::equal(edited.scenes.index({had}), scenes.scenes.index({had})));
      // Edits of the object's shape or colour leave the background alone, noise included:
      // every changed pixel lies within two pixels of the object, before or after.
      if (k < 6) {
        auto changed = (images - redrawn).abs().amax(1, true).gt(0);
        auto object = torch::max_pool2d(torch::max(masks, new_masks), 5, 1, 2).gt(0);
        EXPECT_GT(changed.sum().item<int64_t>(), 0);
        EXPECT_EQ((changed & ~object).sum().item<int64_t>(), 0);
      }
    }
  }
}

TEST(ShapesScenes, TurningAValueOffChoosesEachOtherValueReproducibly) {
  auto scenes = cfx::shapes_scenes(opts(600, "test", "shape"));
  auto a = cfx::intervene_shapes(scenes, 0, false);  // circles become squares or triangles
  auto b = cfx::intervene_shapes(scenes, 0, false);
  EXPECT_TRUE(torch::equal(a.scenes, b.scenes));
  auto was_circle = scenes.scenes.select(1, 0).eq(0);
  auto now = a.scenes.select(1, 0).index({was_circle});
  const double squares = now.eq(1).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(squares, 0.35);
  EXPECT_LT(squares, 0.65);
  EXPECT_TRUE(now.ne(0).all().item<bool>());
}

TEST(ShapesScenes, RejectsWhatIsNotAScene) {
  auto scenes = cfx::shapes_scenes(opts(4, "test", "shape"));
  EXPECT_NE(error_of([&] { cfx::intervene_shapes(scenes, 11, true); }).find("out of range"),
            std::string::npos);
  auto bad = scenes;
  bad.scenes = scenes.scenes.clone();
  bad.scenes[2][0] = 5.0;
  EXPECT_NE(error_of([&] { cfx::render_shapes(bad); }).find("scene 2 is not a scene"),
            std::string::npos);
  bad.scenes = scenes.scenes.to(torch::kFloat);
  EXPECT_NE(error_of([&] { cfx::render_shapes(bad); }).find("float64"), std::string::npos);
}

// The true edit of a request (`cfx train cvae --paired`): any request with one shape and one
// colour is shown exactly, by the smallest changes; a request that keeps everything draws the
// same image; one no scene can show is told apart by its attributes.
TEST(ShapesScenes, SettingAttributesShowsEveryShowableRequest) {
  auto scenes = cfx::shapes_scenes(opts(300, "test", "shape"));
  const auto truth = cfx::shapes_scene_attributes(scenes);
  // Requests: another item's attributes (changes many at once).
  const auto other = truth.roll(1, 0);
  auto moved = cfx::set_shapes_attributes(scenes, other);
  EXPECT_TRUE(torch::equal(cfx::shapes_scene_attributes(moved), other));
  // The background noise and the object's own jitter stay: an unchanged request is the image.
  auto same = cfx::set_shapes_attributes(scenes, truth);
  EXPECT_TRUE(torch::equal(same.scenes, scenes.scenes));
  // One attribute at a time matches intervene_shapes exactly (ons first keeps groups right).
  for (int64_t k : {1, 5, 6, 10}) {
    auto want = truth.clone();
    if (k < 6) {
      const int64_t lo = k < 3 ? 0 : 3;
      want.slice(1, lo, lo + 3).zero_();
      want.select(1, k).fill_(1);
    } else {
      want.select(1, k) = 1 - want.select(1, k);
    }
    auto set = cfx::set_shapes_attributes(scenes, want);
    auto ref = cfx::intervene_shapes(scenes, k, k < 6 ? true : false);
    if (k >= 6) {  // a flip: on where it was off, off where it was on
      auto on = cfx::intervene_shapes(scenes, k, true);
      auto was_on = truth.select(1, k).gt(0.5).unsqueeze(1);
      ref.scenes = torch::where(was_on, ref.scenes, on.scenes);
    }
    EXPECT_TRUE(torch::equal(set.scenes, ref.scenes)) << k;
    EXPECT_TRUE(torch::equal(cfx::shapes_scene_attributes(set), want)) << k;
  }
  // No shape asked for: some shape is still drawn, so the result differs from the request.
  auto none = truth.clone();
  none.slice(1, 0, 3).zero_();
  auto drawn = cfx::shapes_scene_attributes(cfx::set_shapes_attributes(scenes, none));
  EXPECT_TRUE(drawn.slice(1, 0, 3).sum(1).eq(1).all().item<bool>());
  EXPECT_NE(error_of([&] {
              cfx::set_shapes_attributes(scenes, truth.slice(1, 0, 10));
            }).find("must be [300, 11]"),
            std::string::npos);
}
