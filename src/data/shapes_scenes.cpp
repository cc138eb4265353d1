#include "cfx/data/shapes_scenes.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>

#include "cfx/core/error.h"
#include "shapes_render.h"

namespace cfx {

using namespace shapes_detail;

namespace {

constexpr int64_t kColumns = 10;

Item item_of(const double* r) {
  Item it{};
  it.shape = static_cast<int>(r[0]);
  it.colour = static_cast<int>(r[1]);
  it.radius = r[2];
  it.cx = r[3];
  it.cy = r[4];
  it.rotation = r[5];
  it.background = r[6];
  for (int c = 0; c < 3; ++c) it.rgb[c] = static_cast<float>(r[7 + c]);
  return it;
}

void row_of(const Item& it, double* r) {
  r[0] = it.shape;
  r[1] = it.colour;
  r[2] = it.radius;
  r[3] = it.cx;
  r[4] = it.cy;
  r[5] = it.rotation;
  r[6] = it.background;
  for (int c = 0; c < 3; ++c) r[7 + c] = it.rgb[c];
}

void check_scenes(const ShapesScenes& s) {
  CFX_CHECK(s.scenes.defined() && s.scenes.dim() == 2 && s.scenes.size(1) == kColumns &&
                s.scenes.scalar_type() == torch::kDouble,
            "shapes scenes must be a [N, ", kColumns, "] float64 tensor");
  CFX_CHECK(s.items.defined() && s.items.dim() == 1 && s.items.size(0) == s.scenes.size(0) &&
                s.items.scalar_type() == torch::kLong,
            "shapes scenes need one int64 item index per scene");
  s.options.validate();
}

// A reproducible fair coin per item and attribute (splitmix64 of both).
bool coin(int64_t item, int64_t attribute) {
  uint64_t z =
      static_cast<uint64_t>(item) * 16 + static_cast<uint64_t>(attribute) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return ((z ^ (z >> 31)) & 1) != 0;
}

// The value of a three-way factor after do(value k on/off).
int three_way(int current, int k, bool on, int64_t item, int64_t attribute) {
  if (on) return k;
  if (current != k) return current;
  return (k + 1 + (coin(item, attribute) ? 1 : 0)) % 3;
}

// Moves v from [from_lo, from_hi] to the same place within [to_lo, to_hi].
double remap(double v, double from_lo, double from_hi, double to_lo, double to_hi) {
  const double u = from_hi > from_lo ? (v - from_lo) / (from_hi - from_lo) : 0.0;
  return to_lo + std::clamp(u, 0.0, 1.0) * (to_hi - to_lo);
}

void intervene(Item& it, int64_t item, int64_t k, bool on, int s, const ShapesOptions& o) {
  const double lo_r = o.min_radius * s, hi_r = o.max_radius * s;
  const double mid_r = 0.5 * (lo_r + hi_r), centre = 0.5 * (s - 1);
  float a[11];
  attributes_of(it, s, o, a);
  if ((a[k] > 0.5f) == on) return;  // already in the requested state
  if (k < 3) {
    it.shape = three_way(it.shape, static_cast<int>(k), on, item, k);
  } else if (k < 6) {
    const int old = it.colour;
    it.colour = three_way(it.colour, static_cast<int>(k - 3), on, item, k);
    for (int c = 0; c < 3; ++c) {
      // The jitter is the offset from the old base colour; keep it on the new one.
      it.rgb[c] = static_cast<float>(
          std::clamp(double(it.rgb[c]) - kColourRgb[old][c] + kColourRgb[it.colour][c], 0.0, 1.0));
    }
  } else if (k == 6) {
    it.radius = on ? remap(it.radius, lo_r, mid_r, std::nextafter(mid_r, hi_r), hi_r)
                   : remap(it.radius, std::nextafter(mid_r, hi_r), hi_r, lo_r, mid_r);
    // Keep the circumcircle a pixel inside, as sample() places it; the bounds are symmetric
    // about the middle, so left and top cannot change.
    const double lo = it.radius + 0.5, hi = s - 1.5 - it.radius;
    it.cx = std::clamp(it.cx, lo, hi);
    it.cy = std::clamp(it.cy, lo, hi);
  } else if (k == 7) {
    it.cx = 2 * centre - it.cx;
  } else if (k == 8) {
    it.cy = 2 * centre - it.cy;
  } else if (k == 9) {
    const double above = o.rotated_above, most = o.max_rotation;
    if (most <= above) return;  // no rotation in range is "rotated"
    const double sign = it.rotation < 0 ? -1.0 : 1.0, mag = std::abs(it.rotation);
    it.rotation = sign * (on ? remap(mag, 0.0, above, std::nextafter(above, most), most)
                             : remap(mag, std::nextafter(above, most), most, 0.0, above));
  } else {
    it.background = on ? remap(it.background, kDarkLo, kDarkHi, kLightLo, kLightHi)
                       : remap(it.background, kLightLo, kLightHi, kDarkLo, kDarkHi);
  }
}

}  // namespace

ShapesScenes shapes_scenes(const ShapesOptions& o) {
  o.validate();
  ShapesScenes out;
  out.options = o;
  out.scenes = torch::empty({o.count, kColumns}, torch::kDouble);
  out.items = torch::arange(o.count, torch::kLong);
  double* rows = out.scenes.data_ptr<double>();
  const uint32_t tag = split_tag(o.split);
  at::parallel_for(0, o.count, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Rng rng(o.seed, tag, static_cast<uint64_t>(i));
      row_of(sample(o, rng), rows + i * kColumns);
    }
  });
  return out;
}

torch::Tensor render_shapes(const ShapesScenes& sc, torch::Tensor* masks_out) {
  check_scenes(sc);
  const auto& o = sc.options;
  const int s = static_cast<int>(o.size);
  const int64_t n = sc.size(), pixels = int64_t(s) * s;
  auto scenes = sc.scenes.contiguous();
  auto items = sc.items.contiguous();
  const double* rows = scenes.data_ptr<double>();
  const int64_t* idx = items.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const double* r = rows + i * kColumns;
    const bool ok = std::all_of(r, r + kColumns, [](double v) { return std::isfinite(v); }) &&
                    r[0] >= 0 && r[0] <= 2 && r[0] == std::floor(r[0]) && r[1] >= 0 && r[1] <= 2 &&
                    r[1] == std::floor(r[1]) && r[2] > 0 && idx[i] >= 0;
    CFX_CHECK(ok, "shapes scene ", i,
              " is not a scene (shape and colour 0 to 2, radius > 0, "
              "finite values, item >= 0)");
  }
  auto images = torch::empty({n, 3, s, s}, torch::kFloat32);
  auto masks = torch::empty({n, 1, s, s}, torch::kFloat32);
  float* img = images.data_ptr<float>();
  float* msk = masks.data_ptr<float>();
  const uint32_t tag = split_tag(o.split);
  at::parallel_for(0, n, 256, [&](int64_t begin, int64_t end) {
    cv::Mat fine(s * kSuper, s * kSuper, CV_8UC1), cover(s, s, CV_8UC1);
    for (int64_t i = begin; i < end; ++i) {
      // Replay the item's scene draws, so that its background noise comes next in the stream.
      Rng rng(o.seed, tag, static_cast<uint64_t>(idx[i]));
      sample(o, rng);
      render(item_of(rows + i * kColumns), s, o, rng, fine, cover, img + i * 3 * pixels,
             msk + i * pixels);
    }
  });
  if (masks_out) *masks_out = masks;
  return images;
}

torch::Tensor shapes_scene_attributes(const ShapesScenes& sc) {
  check_scenes(sc);
  auto scenes = sc.scenes.contiguous();
  auto out = torch::zeros({sc.size(), 11}, torch::kFloat32);
  const double* rows = scenes.data_ptr<double>();
  float* a = out.data_ptr<float>();
  for (int64_t i = 0; i < sc.size(); ++i)
    attributes_of(item_of(rows + i * kColumns), static_cast<int>(sc.options.size), sc.options,
                  a + i * 11);
  return out;
}

ShapesScenes intervene_shapes(const ShapesScenes& sc, int64_t attribute, bool on) {
  check_scenes(sc);
  CFX_CHECK(attribute >= 0 && attribute < 11, "shapes attribute index ", attribute,
            " is out of range (0 to 10)");
  ShapesScenes out = sc;
  out.scenes = sc.scenes.contiguous().clone();
  auto items = sc.items.contiguous();
  double* rows = out.scenes.data_ptr<double>();
  const int64_t* idx = items.data_ptr<int64_t>();
  const int s = static_cast<int>(sc.options.size);
  for (int64_t i = 0; i < sc.size(); ++i) {
    Item it = item_of(rows + i * kColumns);
    intervene(it, idx[i], attribute, on, s, sc.options);
    row_of(it, rows + i * kColumns);
  }
  return out;
}

ShapesScenes set_shapes_attributes(const ShapesScenes& sc, const torch::Tensor& wanted) {
  check_scenes(sc);
  CFX_CHECK(wanted.dim() == 2 && wanted.size(0) == sc.size() && wanted.size(1) == 11,
            "wanted shapes attributes must be [", sc.size(), ", 11], got ", wanted.sizes());
  auto want = wanted.to(torch::kCPU, torch::kFloat).contiguous();
  CFX_CHECK(torch::isfinite(want).all().item<bool>(), "wanted shapes attributes are not finite");
  ShapesScenes out = sc;
  out.scenes = sc.scenes.contiguous().clone();
  auto items = sc.items.contiguous();
  double* rows = out.scenes.data_ptr<double>();
  const int64_t* idx = items.data_ptr<int64_t>();
  const float* w = want.data_ptr<float>();
  const int s = static_cast<int>(sc.options.size);
  for (int64_t i = 0; i < sc.size(); ++i) {
    Item it = item_of(rows + i * kColumns);
    for (const bool on : {true, false})
      for (int64_t k = 0; k < 11; ++k)
        if ((w[i * 11 + k] > 0.5f) == on) intervene(it, idx[i], k, on, s, sc.options);
    row_of(it, rows + i * kColumns);
  }
  return out;
}

}  // namespace cfx
