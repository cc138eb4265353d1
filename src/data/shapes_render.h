// The shapes renderer's internals, shared by the dataset generator (shapes.cpp) and the
// scene interface that re-renders edited scenes (shapes_scenes.cpp). Not installed.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <random>
#include <string>

#include "cfx/data/shapes.h"

namespace cfx::shapes_detail {

enum Shape { kCircle = 0, kSquare = 1, kTriangle = 2 };
enum Colour { kRed = 0, kGreen = 1, kBlue = 2 };

// Saturated enough that every colour stays far from any grey background after jitter.
inline constexpr float kColourRgb[3][3] = {
    {0.85f, 0.15f, 0.15f}, {0.15f, 0.70f, 0.15f}, {0.15f, 0.30f, 0.90f}};
inline constexpr int kSuper = 4;  // supersampling factor for antialiasing
// Background grey levels: dark in [0.10, 0.25], light in [0.65, 0.80].
inline constexpr double kDarkLo = 0.10, kDarkHi = 0.25, kLightLo = 0.65, kLightHi = 0.80;

// Engine and distributions are written out so the dataset is identical under every standard
// library: std::mt19937_64 and std::seed_seq are fully specified, std distributions are not.
class Rng {
 public:
  Rng(uint64_t seed, uint32_t split, uint64_t item) {
    std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), split,
                      static_cast<uint32_t>(item), static_cast<uint32_t>(item >> 32)};
    engine_.seed(seq);
  }
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return static_cast<int>(engine_() % static_cast<uint64_t>(n)); }

 private:
  std::mt19937_64 engine_;
};

// One image's scene; lengths in pixels (pixel centres at integers), rotation in degrees.
struct Item {
  int shape, colour;
  double radius, cx, cy, rotation, background;
  float rgb[3];
};

// Distinct inputs to every item's seed sequence, so no train item shares a test item's stream.
inline uint32_t split_tag(const std::string& split) { return split == "train" ? 0x7472u : 0x7465u; }

// Draws an item's scene from `rng` (the draws before its background noise).
Item sample(const ShapesOptions& o, Rng& rng);

// Draws `it` into the [3, S, S] image and [1, S, S] mask at img / msk, taking the background
// noise from `rng`. fine: [S * 4, S * 4] and cover: [S, S] CV_8UC1 scratch images.
void render(const Item& it, int s, const ShapesOptions& o, Rng& rng, cv::Mat& fine, cv::Mat& cover,
            float* img, float* msk);

// The class of `it` under `rule`.
int64_t label_of(const std::string& rule, const Item& it);

// The 11 attributes of shapes_attribute_names() into a[0..10].
void attributes_of(const Item& it, int s, const ShapesOptions& o, float* a);

}  // namespace cfx::shapes_detail
