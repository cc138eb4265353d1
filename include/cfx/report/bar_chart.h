// Grouped bar charts with interval whiskers, drawn with OpenCV (the global causal scores).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace cfx {

/// One series of bars: a value per group and its interval (NaN values are not drawn).
struct BarSeries {
  std::string name;
  std::vector<double> value, lo, hi;
};

/// A chart with one group of bars per label and one bar per series, the y axis from y_min to
/// y_max with a line at 0, a legend and a title. Returns an RGB image [3, H, W] in [0, 1].
/// Throws cfx::Error if a series does not have one value per label.
torch::Tensor bar_chart(const std::vector<std::string>& labels,
                        const std::vector<BarSeries>& series, double y_min, double y_max,
                        const std::string& title);

}  // namespace cfx
