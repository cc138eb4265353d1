// The method registry: name -> factory. `cfx methods` prints it.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/methods/method.h"

namespace cfx {

struct MethodInfo {
  std::string name;         // registry key, e.g. "pixel"
  std::string kind;         // "counterfactual" or "saliency"
  std::string description;  // one line for `cfx methods`
  std::string paper;        // where the method comes from
  /// Builds the method from options JSON (unknown keys and bad values throw cfx::Error).
  std::function<std::unique_ptr<Method>(const nlohmann::json& options)> make;
};

/// Every registered method, in display order.
const std::vector<MethodInfo>& method_registry();

/// The registry as `cfx methods --json` prints it and cfx.methods() returns it: one object
/// per method, {name, kind, description, paper, defaults (its options with their defaults)}.
nlohmann::json method_registry_json();

/// Looks a method up; throws cfx::Error for an unknown name, listing the known ones.
const MethodInfo& method_info(const std::string& name);

/// method_info(name).make(options).
std::unique_ptr<Method> make_method(const std::string& name,
                                    const nlohmann::json& options = nlohmann::json::object());

}  // namespace cfx
