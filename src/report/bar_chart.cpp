#include "cfx/report/bar_chart.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "cfx/core/error.h"

namespace cfx {

torch::Tensor bar_chart(const std::vector<std::string>& labels,
                        const std::vector<BarSeries>& series, double y_min, double y_max,
                        const std::string& title) {
  CFX_CHECK(y_max > y_min, "bar chart: empty y range");
  for (const auto& s : series)
    CFX_CHECK(s.value.size() == labels.size() && s.lo.size() == labels.size() &&
                  s.hi.size() == labels.size(),
              "bar chart: series ", s.name, " needs one value per label");
  const int group_w = std::max<int>(48, 14 * static_cast<int>(series.size()) + 16);
  const int left = 48, right = 16, top = 48, plot_h = 260, label_h = 70;
  const int W = left + right + group_w * std::max<int>(1, static_cast<int>(labels.size()));
  const int H = top + plot_h + label_h;
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  auto y_of = [&](double v) {
    v = std::clamp(v, y_min, y_max);
    return top + static_cast<int>(std::lround((y_max - v) / (y_max - y_min) * plot_h));
  };
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  const cv::Scalar ink(40, 40, 40), grid(220, 220, 220);
  for (double t = std::ceil(y_min * 4) / 4; t <= y_max + 1e-9; t += 0.25) {
    int y = y_of(t);
    cv::line(img, {left, y}, {W - right, y}, std::abs(t) < 1e-9 ? ink : grid, 1);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2f", t);
    cv::putText(img, buf, {4, y + 4}, font, 0.35, ink, 1, cv::LINE_AA);
  }
  // Colour-blind-safe palette (Okabe-Ito), as BGR.
  const std::vector<cv::Scalar> colours = {{178, 114, 0},   {0, 159, 230},  {115, 158, 0},
                                           {167, 121, 204}, {66, 228, 240}, {0, 94, 213}};
  const int bar_w = 12;
  for (size_t g = 0; g < labels.size(); ++g) {
    int x0 = left + static_cast<int>(g) * group_w + 8;
    for (size_t s = 0; s < series.size(); ++s) {
      const auto& sr = series[s];
      int x = x0 + static_cast<int>(s) * (bar_w + 2);
      const auto& colour = colours[s % colours.size()];
      if (std::isfinite(sr.value[g])) {
        int y0 = y_of(0), y1 = y_of(sr.value[g]);
        cv::rectangle(img, {x, std::min(y0, y1)}, {x + bar_w - 1, std::max(y0, y1)}, colour,
                      cv::FILLED);
      }
      if (std::isfinite(sr.lo[g]) && std::isfinite(sr.hi[g])) {
        int xm = x + bar_w / 2, ylo = y_of(sr.lo[g]), yhi = y_of(sr.hi[g]);
        cv::line(img, {xm, ylo}, {xm, yhi}, ink, 1);
        cv::line(img, {xm - 3, ylo}, {xm + 3, ylo}, ink, 1);
        cv::line(img, {xm - 3, yhi}, {xm + 3, yhi}, ink, 1);
      }
    }
    // Labels alternate between two rows so long names of neighbours do not overlap.
    int ly = top + plot_h + 16 + (g % 2) * 14;
    cv::putText(img, labels[g], {x0, ly}, font, 0.35, ink, 1, cv::LINE_AA);
  }
  cv::putText(img, title, {left, 18}, font, 0.5, ink, 1, cv::LINE_AA);
  int lx = left;
  for (size_t s = 0; s < series.size(); ++s) {
    cv::rectangle(img, {lx, 28}, {lx + 10, 38}, colours[s % colours.size()], cv::FILLED);
    cv::putText(img, series[s].name, {lx + 14, 37}, font, 0.35, ink, 1, cv::LINE_AA);
    int base = 0;
    lx += 24 + cv::getTextSize(series[s].name, font, 0.35, 1, &base).width;
  }
  cv::Mat rgb;
  cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
  auto t = torch::from_blob(rgb.data, {H, W, 3}, torch::kUInt8).clone();
  return t.permute({2, 0, 1}).to(torch::kFloat).div_(255.0).contiguous();
}

}  // namespace cfx
