#include "cfx/methods/registry.h"

#include "cfx/core/error.h"
#include "cfx/methods/inversion/inversion.h"

namespace cfx {

// One explicit list rather than self-registering statics: a static library drops object
// files nothing references, and with them their registrations.
const std::vector<MethodInfo>& method_registry() {
  static const std::vector<MethodInfo> registry = {
      {"pixel", "counterfactual",
       "vanilla inversion: free pixels, cross-entropy to the target + L1 + total variation",
       "Wachter et al. style baseline (METHODS.md §1)",
       [](const nlohmann::json& j) {
         return std::make_unique<PixelInversion>(InversionOptions::from_json(j));
       }},
  };
  return registry;
}

const MethodInfo& method_info(const std::string& name) {
  for (const auto& m : method_registry())
    if (m.name == name) return m;
  std::string known;
  for (const auto& m : method_registry()) known += (known.empty() ? "" : ", ") + m.name;
  fail("unknown method '", name, "'; known: ", known, " (see `cfx methods`)");
}

std::unique_ptr<Method> make_method(const std::string& name, const nlohmann::json& options) {
  return method_info(name).make(options);
}

}  // namespace cfx
