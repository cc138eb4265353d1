#include "cfx/data/corrupt.h"

#include <cmath>

#include "cfx/core/error.h"
#include "cfx/core/tensor.h"

namespace cfx {

torch::Tensor corrupt_images(const torch::Tensor& images, const std::string& spec, uint64_t seed) {
  if (spec.empty() || spec == "none") return images;
  auto colon = spec.find(':');
  CFX_CHECK(colon != std::string::npos, "corruption '", spec,
            "' should be KIND:LEVEL (noise:0.1, blur:1, contrast:0.5) or none");
  std::string kind = spec.substr(0, colon), level_s = spec.substr(colon + 1);
  double level = 0;
  size_t used = 0;
  try {
    level = std::stod(level_s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  CFX_CHECK(used == level_s.size() && used > 0 && std::isfinite(level), "corruption '", spec,
            "': level '", level_s, "' is not a number");
  auto x = images.to(torch::kFloat32);
  if (kind == "noise") {
    CFX_CHECK(level > 0 && level <= 1, "corruption noise: σ must be in (0, 1], got ", level);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    auto eps = torch::randn(x.sizes(), gen, torch::TensorOptions(torch::kFloat32));
    return (x + level * eps.to(x.device())).clamp(0, 1);
  }
  if (kind == "blur") {
    CFX_CHECK(level > 0 && level <= 10, "corruption blur: σ must be in (0, 10], got ", level);
    return gaussian_blur(x, level).clamp(0, 1);
  }
  if (kind == "contrast") {
    CFX_CHECK(level > 0 && level <= 1, "corruption contrast: f must be in (0, 1], got ", level);
    auto m = x.mean({1, 2, 3}, true);
    return (m + level * (x - m)).clamp(0, 1);
  }
  fail("unknown corruption '", kind, "'; known: noise, blur, contrast, none");
}

}  // namespace cfx
