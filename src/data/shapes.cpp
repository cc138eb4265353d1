#include "cfx/data/shapes.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "cfx/core/error.h"
#include "shapes_render.h"

namespace cfx {

using namespace shapes_detail;

namespace {

const char* const kShapeNames[3] = {"circle", "square", "triangle"};
const char* const kColourNames[3] = {"red", "green", "blue"};
constexpr int kShift = 4;  // OpenCV drawing: 4 fractional bits, so centres are sub-pixel
constexpr double kMaxBytes = 16.0 * (1ull << 30);

void check_range(const char* field, double v, double lo, double hi, const char* hint = "") {
  CFX_CHECK(std::isfinite(v) && v >= lo && v <= hi, "shapes option ", field, " = ", v,
            " is out of range; use a value in [", lo, ", ", hi, "]", hint);
}

cv::Point fixed_point(double x, double y) {
  return cv::Point(static_cast<int>(std::lround(x * (1 << kShift))),
                   static_cast<int>(std::lround(y * (1 << kShift))));
}

}  // namespace

namespace shapes_detail {

// Draws item `it` into the [3, S, S] image and [1, S, S] mask slices starting at img / msk.
// The object is filled without antialiasing at kSuper times the resolution and box-averaged
// down, so `cover` holds the fraction of each pixel the object covers. (OpenCV's LINE_AA
// fills add a one-pixel soft outline, which makes shapes about half a pixel too large.)
void render(const Item& it, int s, const ShapesOptions& o, Rng& rng, cv::Mat& fine, cv::Mat& cover,
            float* img, float* msk) {
  // Pixel centres are integers at both resolutions; map coordinates between them.
  auto at = [](double x, double y) {
    return fixed_point((x + 0.5) * kSuper - 0.5, (y + 0.5) * kSuper - 0.5);
  };
  fine.setTo(0);
  if (it.shape == kCircle) {
    cv::circle(fine, at(it.cx, it.cy),
               static_cast<int>(std::lround(it.radius * kSuper * (1 << kShift))), cv::Scalar(255),
               cv::FILLED, cv::LINE_8, kShift);
  } else {
    const int k = it.shape == kSquare ? 4 : 3;
    // Square corners on the diagonals, triangle apex up; rotation turns clockwise on screen.
    const double start = it.shape == kSquare ? 45.0 : -90.0;
    cv::Point pts[4];
    for (int v = 0; v < k; ++v) {
      const double a = (start + it.rotation + v * 360.0 / k) * CV_PI / 180.0;
      pts[v] = at(it.cx + it.radius * std::cos(a), it.cy + it.radius * std::sin(a));
    }
    cv::fillConvexPoly(fine, pts, k, cv::Scalar(255), cv::LINE_8, kShift);
  }
  cv::resize(fine, cover, cover.size(), 0, 0, cv::INTER_AREA);
  // Uniform noise of standard deviation `noise`, grey (equal in R, G, B) so that the object
  // is the only coloured thing in the image.
  const double half_width = o.noise * std::sqrt(3.0);
  const int n = s * s;
  for (int p = 0; p < n; ++p) {
    const float alpha = cover.data[p] / 255.0f;
    const float bg = static_cast<float>(
        std::clamp(it.background + rng.uniform(-half_width, half_width), 0.0, 1.0));
    for (int c = 0; c < 3; ++c) img[c * n + p] = bg * (1.0f - alpha) + it.rgb[c] * alpha;
    msk[p] = alpha >= 0.5f ? 1.0f : 0.0f;
  }
}

Item sample(const ShapesOptions& o, Rng& rng) {
  Item it{};
  if (o.rule == "red-circle") {
    // Half red circles, half the other eight combinations, so the two classes are balanced.
    if (rng.uniform() < 0.5) {
      it.shape = kCircle;
      it.colour = kRed;
    } else {
      const int k = 1 + rng.below(8);
      it.shape = k / 3;
      it.colour = k % 3;
    }
  } else {
    it.shape = rng.below(3);
    it.colour = rng.below(3);
  }
  const double s = static_cast<double>(o.size);
  it.radius = rng.uniform(o.min_radius, o.max_radius) * s;
  // Pixel centres are at integers, so the image spans [-0.5, s - 0.5]; keep the object's
  // circumcircle a pixel inside, so that no border pixel is part of the object's mask.
  const double lo = it.radius + 0.5, hi = s - 1.5 - it.radius;
  it.cx = rng.uniform(lo, hi);
  it.cy = rng.uniform(lo, hi);
  it.rotation = it.shape == kCircle ? 0.0 : rng.uniform(-o.max_rotation, o.max_rotation);
  it.background =
      rng.uniform() < 0.5 ? rng.uniform(kDarkLo, kDarkHi) : rng.uniform(kLightLo, kLightHi);
  for (int c = 0; c < 3; ++c) {
    it.rgb[c] = static_cast<float>(std::clamp(
        kColourRgb[it.colour][c] + rng.uniform(-o.colour_jitter, o.colour_jitter), 0.0, 1.0));
  }
  return it;
}

int64_t label_of(const std::string& rule, const Item& it) {
  if (rule == "shape") return it.shape;
  if (rule == "colour") return it.colour;
  if (rule == "shape-colour") return it.shape * 3 + it.colour;
  return it.shape == kCircle && it.colour == kRed ? 1 : 0;  // "red-circle"
}

void attributes_of(const Item& it, int s, const ShapesOptions& o, float* a) {
  const double mid_radius = 0.5 * (o.min_radius + o.max_radius) * s;
  const double centre = 0.5 * (s - 1);
  for (int k = 0; k < 11; ++k) a[k] = 0.0f;
  a[it.shape] = 1.0f;
  a[3 + it.colour] = 1.0f;
  a[6] = it.radius > mid_radius;
  a[7] = it.cx < centre;
  a[8] = it.cy < centre;
  a[9] = std::abs(it.rotation) > o.rotated_above;
  a[10] = it.background > 0.5;
}

}  // namespace shapes_detail

void ShapesOptions::validate() const {
  CFX_CHECK(split == "train" || split == "test", "unknown split '", split,
            "' for shapes; use train or test");
  shapes_class_names(rule);  // throws for an unknown rule
  CFX_CHECK(count >= 1, "shapes option count = ", count, " must be at least 1");
  CFX_CHECK(size >= 8 && size <= 1024, "shapes option size = ", size,
            " is out of range; use 8 to 1024 pixels");
  const double bytes = static_cast<double>(count) * 4.0 * 4.0 * double(size) * double(size);
  CFX_CHECK(bytes <= kMaxBytes, "shapes: ", count, " images of ", size, "x", size, " would need ",
            bytes / (1ull << 30), " GiB; lower count or size");
  check_range("min_radius", min_radius, 0.02, 0.49);
  check_range("max_radius", max_radius, min_radius, 0.49, " (at least min_radius)");
  CFX_CHECK(min_radius * double(size) >= 1.0, "shapes option min_radius = ", min_radius,
            " gives objects under 1 pixel at size ", size, "; raise min_radius to at least ",
            1.0 / double(size));
  // The centre is drawn from [r + 0.5, size - 1.5 - r] (see sample), which must not be empty.
  const double fit = (double(size) - 2.0) / (2.0 * double(size));
  CFX_CHECK(max_radius <= fit, "shapes option max_radius = ", max_radius,
            " leaves no room to place the object in a ", size, "x", size, " image; use at most ",
            fit);
  check_range("max_rotation", max_rotation, 0.0, 180.0);
  check_range("rotated_above", rotated_above, 0.0, 180.0);
  check_range("colour_jitter", colour_jitter, 0.0, 0.3);
  check_range("noise", noise, 0.0, 0.2);
}

std::vector<std::string> shapes_rules() {
  return {"shape", "colour", "shape-colour", "red-circle"};
}

std::vector<std::string> shapes_class_names(const std::string& rule) {
  if (rule == "shape") return {kShapeNames, kShapeNames + 3};
  if (rule == "colour") return {kColourNames, kColourNames + 3};
  if (rule == "shape-colour") {
    std::vector<std::string> names;
    for (const char* s : kShapeNames) {
      for (const char* c : kColourNames) names.push_back(std::string(c) + " " + s);
    }
    return names;
  }
  if (rule == "red-circle") return {"other", "red circle"};
  std::string known;
  for (const auto& r : shapes_rules()) known += (known.empty() ? "" : ", ") + r;
  fail("unknown shapes rule '", rule, "'; known rules: ", known);
}

std::vector<std::string> shapes_attribute_names() {
  return {"circle", "square", "triangle", "red",     "green",           "blue",
          "large",  "left",   "top",      "rotated", "light_background"};
}

int64_t shapes_split_size(const std::string& split) { return split == "train" ? 10000 : 2000; }

std::vector<std::string> shapes_factor_names() {
  return {"shape", "colour", "radius", "x", "y", "rotation", "background"};
}

Dataset generate_shapes(const ShapesOptions& o) {
  o.validate();
  const int64_t n = o.count;
  const int s = static_cast<int>(o.size);
  const int64_t pixels = int64_t(s) * s;
  const uint32_t tag = split_tag(o.split);

  Dataset ds;
  ds.name = "shapes";
  ds.split = o.split;
  ds.class_names = shapes_class_names(o.rule);
  ds.attribute_names = shapes_attribute_names();
  ds.factor_names = shapes_factor_names();
  ds.images = torch::empty({n, 3, s, s}, torch::kFloat32);
  ds.masks = torch::empty({n, 1, s, s}, torch::kFloat32);
  ds.labels = torch::empty({n}, torch::kInt64);
  ds.attributes = torch::zeros({n, 11}, torch::kFloat32);
  ds.factors = torch::empty({n, 7}, torch::kFloat32);
  float* img = ds.images.data_ptr<float>();
  float* msk = ds.masks.data_ptr<float>();
  int64_t* lab = ds.labels.data_ptr<int64_t>();
  float* att = ds.attributes.data_ptr<float>();
  float* fac = ds.factors.data_ptr<float>();
  // Items are independent (one seed each), so threads cannot change the result.
  at::parallel_for(0, n, 256, [&](int64_t begin, int64_t end) {
    cv::Mat fine(s * kSuper, s * kSuper, CV_8UC1), cover(s, s, CV_8UC1);
    for (int64_t i = begin; i < end; ++i) {
      Rng rng(o.seed, tag, static_cast<uint64_t>(i));
      const Item it = sample(o, rng);
      render(it, s, o, rng, fine, cover, img + i * 3 * pixels, msk + i * pixels);
      lab[i] = label_of(o.rule, it);
      attributes_of(it, s, o, att + i * 11);
      float* f = fac + i * 7;
      f[0] = static_cast<float>(it.shape);
      f[1] = static_cast<float>(it.colour);
      f[2] = static_cast<float>(it.radius / s);
      f[3] = static_cast<float>((it.cx + 0.5) / s);
      f[4] = static_cast<float>((it.cy + 0.5) / s);
      f[5] = static_cast<float>(it.rotation);
      f[6] = static_cast<float>(it.background);
    }
  });
  ds.sources.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    ds.sources.push_back("shapes:" + o.split + ":" + std::to_string(i));
  return ds;
}

}  // namespace cfx
