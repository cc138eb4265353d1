#include "cfx/data/shapes_reader.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "cfx/core/error.h"
#include "shapes_render.h"

namespace cfx {

namespace {

constexpr double kPi = 3.14159265358979323846;
// An image whose most saturated pixel has less chroma than this shows no object: the
// renderer's least saturated colour (green, jittered) has 0.39.
constexpr double kNoObject = 0.15;
// Pixels at least this saturated are coloured: the object covers a sixth or more of them.
constexpr float kColoured = 0.1f;
// |harmonic| of the renderer's own shapes at 32 px: triangles' third 0.51-0.56, squares'
// fourth 0.26-0.31, circles' both below 0.02. A shape reads as a circle unless one of them
// reaches this share of its polygon's value.
constexpr double kThird = 0.53, kFourth = 0.28, kCircleBelow = 0.4;

// Angle in degrees wrapped into (-period / 2, period / 2].
double wrap(double deg, double period) { return deg - period * std::ceil(deg / period - 0.5); }

// Reads one [3, S, S] image at img into its 7 factors and 11 attributes (see the header).
void read_one(const float* img, int S, const ShapesOptions& o, float* f, float* a, float* poly) {
  const int n = S * S;
  std::vector<float> chroma(n);
  for (int p = 0; p < n; ++p) {
    const float r = img[p], g = img[n + p], b = img[2 * n + p];
    chroma[p] = std::max({r, g, b}) - std::min({r, g, b});
  }
  // The object is the largest 8-connected region of coloured pixels; anything else coloured
  // (a stamp a generator drew to fool a classifier) is neither object nor background.
  cv::Mat coloured(S, S, CV_8UC1), labels, stats, centroids;
  for (int p = 0; p < n; ++p) coloured.data[p] = chroma[p] >= kColoured ? 1 : 0;
  const int count = cv::connectedComponentsWithStats(coloured, labels, stats, centroids, 8, CV_32S);
  int best = 0;
  for (int l = 1; l < count; ++l)
    if (best == 0 || stats.at<int>(l, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA))
      best = l;
  // Its pixels and their neighbours (the antialiased rim below kColoured).
  cv::Mat region = labels == best, near;
  cv::dilate(region, near, cv::Mat::ones(3, 3, CV_8UC1));
  float top = 0;
  for (int p = 0; p < n; ++p)
    if (best > 0 && region.data[p]) top = std::max(top, chroma[p]);
  const bool found = top >= kNoObject;
  // The object's colour: the mean of its most saturated pixels (its fully covered interior).
  double rgb[3] = {0, 0, 0}, core = 0;
  for (int p = 0; p < n; ++p) {
    if (!found || !region.data[p] || chroma[p] < 0.8f * top) continue;
    for (int c = 0; c < 3; ++c) rgb[c] += img[c * n + p];
    core += 1;
  }
  for (double& v : rgb) v /= std::max(core, 1.0);
  const double own =
      std::max(std::max({rgb[0], rgb[1], rgb[2]}) - std::min({rgb[0], rgb[1], rgb[2]}), 1e-6);
  std::vector<double> alpha(n, 0.0);
  double area = 0, cx = 0, cy = 0;
  for (int p = 0; p < n; ++p) {
    if (!found || !near.data[p]) continue;
    alpha[p] = std::clamp(chroma[p] / own, 0.0, 1.0);
    area += alpha[p];
    cx += alpha[p] * (p % S);
    cy += alpha[p] * (p / S);
  }
  if (found) {
    cx /= area;
    cy /= area;
  }
  // Harmonics of α·r² over the angle about the centre (y grows downwards, as the renderer's
  // angles do): the far pixels, the vertices, dominate.
  std::complex<double> h3 = 0, h4 = 0;
  double mass = 0;
  for (int p = 0; p < n; ++p) {
    if (alpha[p] == 0) continue;
    const double dx = p % S - cx, dy = p / S - cy, w = alpha[p] * (dx * dx + dy * dy);
    const double th = std::atan2(dy, dx);
    h3 += w * std::polar(1.0, 3 * th);
    h4 += w * std::polar(1.0, 4 * th);
    mass += w;
  }
  if (mass > 0) {
    h3 /= mass;
    h4 /= mass;
  }
  const double t = std::abs(h3) / kThird, q = std::abs(h4) / kFourth;
  const int shape = !found ? -1 : std::max(t, q) < kCircleBelow ? 0 : t > q ? 2 : 1;
  *poly = found ? static_cast<float>(std::max(t, q)) : 0.0f;
  // Vertices at 45° + rotation (square) and −90° + rotation (triangle), so the k-th harmonic's
  // phase is k times that, modulo 360.
  const double deg = 180.0 / kPi;
  const double rotation = shape == 1   ? wrap(std::arg(h4) * deg - 180.0, 360.0) / 4.0
                          : shape == 2 ? wrap(std::arg(h3) * deg - 90.0, 360.0) / 3.0
                                       : 0.0;
  // Area → circumradius: π r² (circle), 2 r² (square), 3√3/4 r² (triangle).
  const double per_r2 = shape == 0 ? kPi : shape == 1 ? 2.0 : 3.0 * std::sqrt(3.0) / 4.0;
  const double radius = found ? std::sqrt(area / per_r2) : 0.0;
  int colour = -1;
  double nearest = 1e9;
  for (int c = 0; found && c < 3; ++c) {
    double d = 0;
    for (int k = 0; k < 3; ++k) d += std::pow(rgb[k] - shapes_detail::kColourRgb[c][k], 2);
    if (d < nearest) nearest = d, colour = c;
  }
  // The background: the median grey of the pixels neither object nor coloured (of all pixels
  // when there are none).
  auto grey = [&](int p) { return (img[p] + img[n + p] + img[2 * n + p]) / 3; };
  std::vector<float> greys;
  for (int p = 0; p < n; ++p)
    if (alpha[p] < 0.05 && chroma[p] < kColoured) greys.push_back(grey(p));
  if (greys.empty())
    for (int p = 0; p < n; ++p) greys.push_back(grey(p));
  std::nth_element(greys.begin(), greys.begin() + greys.size() / 2, greys.end());
  const double background = greys[greys.size() / 2];
  const double s = S;
  const float row[7] = {float(shape),          float(colour),         float(radius / s),
                        float((cx + 0.5) / s), float((cy + 0.5) / s), float(rotation),
                        float(background)};
  std::copy(row, row + 7, f);
  // The read scene's attributes, derived as the renderer derives them; with no object only
  // the background is read.
  if (found) {
    shapes_detail::Item it{};
    it.shape = shape;
    it.colour = colour;
    it.radius = radius;
    it.cx = cx;
    it.cy = cy;
    it.rotation = rotation;
    it.background = background;
    shapes_detail::attributes_of(it, S, o, a);
  } else {
    std::fill(a, a + 11, 0.0f);
    a[10] = background > 0.5;
  }
}

}  // namespace

ShapesReading read_shapes(const torch::Tensor& images, const ShapesOptions& o) {
  o.validate();
  const int64_t S = o.size;
  CFX_CHECK(images.defined() && images.dim() == 4 && images.size(1) == 3 && images.size(2) == S &&
                images.size(3) == S,
            "shapes images must be [N, 3, ", S, ", ", S, "], got ",
            images.defined() ? images.sizes() : torch::IntArrayRef{});
  const int64_t N = images.size(0);
  auto x = images.detach().to(torch::kCPU, torch::kFloat).contiguous();
  CFX_CHECK(N == 0 || (torch::isfinite(x).all().item<bool>() && x.min().item<float>() >= 0 &&
                       x.max().item<float>() <= 1),
            "shapes images must hold values in [0, 1]");
  auto factors = torch::zeros({N, 7});
  auto attributes = torch::zeros({N, 11});
  auto polygon = torch::zeros({N});
  const float* px = x.data_ptr<float>();
  float* fac = factors.data_ptr<float>();
  float* att = attributes.data_ptr<float>();
  float* poly = polygon.data_ptr<float>();
  at::parallel_for(0, N, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      read_one(px + i * 3 * S * S, static_cast<int>(S), o, fac + i * 7, att + i * 11, poly + i);
  });
  return {factors, attributes, polygon};
}

std::pair<torch::Tensor, torch::Tensor> shapes_polygon_harmonics(const torch::Tensor& images) {
  CFX_CHECK(images.dim() == 4 && images.size(1) == 3, "shapes images must be [N, 3, S, S], got ",
            images.sizes());
  const int64_t H = images.size(2), W = images.size(3);
  auto chroma = std::get<0>(images.max(1)) - std::get<0>(images.min(1));  // [N, H, W]
  // The most saturated pixel stands for the object's own chroma (the reader's core colour).
  auto top = chroma.flatten(1).amax(1).clamp_min(kNoObject).detach().view({-1, 1, 1});
  auto alpha = ((chroma / top - kColoured) / (1 - kColoured)).clamp(0, 1);
  auto opts = images.options();
  auto xs = torch::arange(W, opts).view({1, 1, W}), ys = torch::arange(H, opts).view({1, H, 1});
  auto mass = alpha.sum({1, 2}).clamp_min(1e-6);
  auto cx = ((alpha * xs).sum({1, 2}) / mass).view({-1, 1, 1});
  auto cy = ((alpha * ys).sum({1, 2}) / mass).view({-1, 1, 1});
  auto dx = xs - cx, dy = ys - cy;
  auto r2 = dx * dx + dy * dy;
  // α·r²·e^{ikθ} written with (dx + i·dy)^k, so that no angle (and no 0/0 at the centre) is
  // differentiated: r² e^{3iθ} = (dx + i dy)³ / r, r² e^{4iθ} = (dx + i dy)⁴ / r².
  auto r = torch::sqrt(r2 + 1e-6);
  auto wsum = (alpha * r2).sum({1, 2}).clamp_min(1e-6);
  auto re3 = (alpha * (dx * dx * dx - 3 * dx * dy * dy) / r).sum({1, 2});
  auto im3 = (alpha * (3 * dx * dx * dy - dy * dy * dy) / r).sum({1, 2});
  auto re4 = (alpha * (dx * dx * dx * dx - 6 * dx * dx * dy * dy + dy * dy * dy * dy) / (r * r))
                 .sum({1, 2});
  auto im4 = (alpha * (4 * dx * dx * dx * dy - 4 * dx * dy * dy * dy) / (r * r)).sum({1, 2});
  auto third = torch::sqrt(re3 * re3 + im3 * im3 + 1e-12) / wsum / kThird;
  auto fourth = torch::sqrt(re4 * re4 + im4 * im4 + 1e-12) / wsum / kFourth;
  return {third, fourth};
}

std::optional<ShapesOptions> shapes_reading_for(const std::vector<std::string>& attributes,
                                                const std::vector<int64_t>& shape) {
  if (attributes != shapes_attribute_names() || shape.size() != 3 || shape[0] != 3 ||
      shape[1] != shape[2] || shape[1] < 8)
    return std::nullopt;
  ShapesOptions o;
  o.size = shape[1];
  return o;
}

}  // namespace cfx
