#include "cfx/data/morphometry.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "cfx/core/error.h"

// Definitions (x = column, y = row growing downwards; "ink" = pixels with intensity above the
// threshold, 0.5 by default):
//   area      number of ink pixels.
//   thickness 2 * mean(D) - 0.5 over the pixels of the ink's skeleton, where D is the
//             Euclidean distance from a pixel to the nearest non-ink pixel (OpenCV
//             distanceTransform). A skeleton pixel sits mid-stroke, so D is about half the
//             stroke width plus half a pixel (distances run between pixel centres). For an
//             even width the skeleton sits half a pixel off-centre, so 2D - 1 would be exact
//             for odd widths and a pixel low for even ones; -0.5 keeps every straight stroke
//             within half a pixel. The skeleton comes from Zhang-Suen thinning.
//   slant     atan(-mu11 / mu02) in radians from the central moments of the intensities: the
//             horizontal shear that best explains the digit; > 0 when the top leans right.
//   width     width of the ink's bounding box in pixels.
//   height    height of the ink's bounding box in pixels.
// Width and height are measured on the slanted digit as it is (no de-slanting).

namespace cfx {

namespace {

// Zhang & Suen (1984) thinning of a 0/1 image with a one-pixel zero border, in place.
// Local rules only, so it needs no OpenCV contrib module.
void thin(std::vector<uint8_t>& img, int rows, int cols) {
  std::vector<int> doomed;
  bool changed = true;
  while (changed) {
    changed = false;
    for (int pass = 0; pass < 2; ++pass) {
      doomed.clear();
      for (int y = 1; y < rows - 1; ++y) {
        for (int x = 1; x < cols - 1; ++x) {
          const int i = y * cols + x;
          if (!img[i]) continue;
          // Neighbours clockwise from north: p2..p9.
          const int p[8] = {img[i - cols], img[i - cols + 1], img[i + 1], img[i + cols + 1],
                            img[i + cols], img[i + cols - 1], img[i - 1], img[i - cols - 1]};
          int b = 0, a = 0;
          for (int k = 0; k < 8; ++k) {
            b += p[k];
            a += (!p[k] && p[(k + 1) % 8]);
          }
          if (b < 2 || b > 6 || a != 1) continue;
          const int n = p[0], e = p[2], s = p[4], w = p[6];
          const bool keep =
              pass == 0 ? (n && e && s) || (e && s && w) : (n && e && w) || (n && s && w);
          if (!keep) doomed.push_back(i);
        }
      }
      for (int i : doomed) img[i] = 0;
      changed = changed || !doomed.empty();
    }
  }
}

void measure(const float* px, int rows, int cols, float ink_above, float* out) {
  std::fill(out, out + 5, 0.0f);
  // Padded binary image so thinning and the distance transform see background at the border.
  const int pr = rows + 2, pc = cols + 2;
  std::vector<uint8_t> ink(static_cast<size_t>(pr * pc), 0);
  int area = 0, x0 = cols, x1 = -1, y0 = rows, y1 = -1;
  double m00 = 0, m10 = 0, m01 = 0;
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols; ++x) {
      const float v = px[y * cols + x];
      m00 += v;
      m10 += v * x;
      m01 += v * y;
      if (v > ink_above) {
        ink[(y + 1) * pc + x + 1] = 1;
        ++area;
        x0 = std::min(x0, x);
        x1 = std::max(x1, x);
        y0 = std::min(y0, y);
        y1 = std::max(y1, y);
      }
    }
  }
  if (area == 0 || m00 <= 0) return;

  const double cx = m10 / m00, cy = m01 / m00;
  double mu11 = 0, mu02 = 0;
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols; ++x) {
      const double v = px[y * cols + x];
      mu11 += v * (x - cx) * (y - cy);
      mu02 += v * (y - cy) * (y - cy);
    }
  }
  const double slant = mu02 > 0 ? std::atan(-mu11 / mu02) : 0.0;

  cv::Mat bin(pr, pc, CV_8UC1, ink.data());
  cv::Mat dist;
  cv::distanceTransform(bin, dist, cv::DIST_L2, cv::DIST_MASK_PRECISE, CV_32F);
  std::vector<uint8_t> skel = ink;
  thin(skel, pr, pc);
  double sum = 0;
  int count = 0;
  for (int i = 0; i < pr * pc; ++i) {
    if (skel[i]) {
      sum += dist.at<float>(i / pc, i % pc);
      ++count;
    }
  }
  if (count == 0) {
    // Thinning can erase tiny blobs (a 2x2 square) entirely; their deepest pixels stand in.
    double best = 0;
    cv::minMaxLoc(dist, nullptr, &best);
    sum = best;
    count = 1;
  }
  out[0] = static_cast<float>(area);
  out[1] = static_cast<float>(2.0 * sum / count - 0.5);
  out[2] = static_cast<float>(slant);
  out[3] = static_cast<float>(x1 - x0 + 1);
  out[4] = static_cast<float>(y1 - y0 + 1);
}

}  // namespace

std::vector<std::string> morphometric_attribute_names() {
  return {"area", "thickness", "slant", "width", "height"};
}

torch::Tensor morphometric_attributes(const torch::Tensor& images, float ink) {
  CFX_CHECK(images.defined() && images.dim() == 4 && images.size(1) == 1,
            "morphometric attributes need grey images [N, 1, H, W], got ",
            images.defined() ? images.sizes() : c10::IntArrayRef{});
  CFX_CHECK(ink > 0.0f && ink < 1.0f, "morphometric ink threshold = ", ink,
            " is out of range; use a value in (0, 1)");
  auto x = images.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t n = x.size(0);
  const int rows = static_cast<int>(x.size(2)), cols = static_cast<int>(x.size(3));
  auto out = torch::zeros({n, 5}, torch::kFloat32);
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  try {
    for (int64_t i = 0; i < n; ++i) measure(src + i * rows * cols, rows, cols, ink, dst + i * 5);
  } catch (const cv::Exception& e) {
    fail("cannot measure images of shape ", images.sizes(), ": ", e.what());
  }
  return out;
}

}  // namespace cfx
