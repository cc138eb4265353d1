#include "cfx/models/companions.h"

#include <filesystem>

#include "cfx/core/fs.h"
#include "cfx/models/classifier.h"

namespace fs = std::filesystem;

namespace cfx {

std::string companion_path(const Classifier& F, const std::string& kind,
                           const std::string& dataset) {
  const auto& info = F.info();
  const std::string& d = dataset.empty() ? info.dataset : dataset;
  if (d.empty() || info.source.empty()) return "";
  return (fs::path(info.source).parent_path() / (d + "-" + kind + ".pt")).string();
}

std::string find_companion(const std::string& given, const Classifier* F, const std::string& kind,
                           const std::string& dataset) {
  if (given == "none") return "";
  if (!given.empty()) return given;
  if (F == nullptr) return "";
  auto path = companion_path(*F, kind, dataset);
  return !path.empty() && is_file(path) ? path : "";
}

std::string recorded_path(const std::string& recorded, const std::string& checkpoint) {
  if (recorded.empty() || fs::path(recorded).is_absolute()) return recorded;
  return (fs::path(checkpoint).parent_path() / recorded).string();
}

}  // namespace cfx
