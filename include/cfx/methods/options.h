// Helpers for Options structs that round-trip through JSON: unknown keys are errors that
// list the known ones, and values keep their types.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "cfx/core/error.h"

namespace cfx {

/// Throws cfx::Error if `given` has a key that `defaults` lacks.
void check_option_keys(const std::string& owner, const nlohmann::json& given,
                       const nlohmann::json& defaults);

/// Parses "key=value" assignments (the CLI's repeated --set) into a JSON object: a value is
/// read as JSON when it is valid JSON, else kept as a string ("infill=blur"). Throws
/// cfx::Error for an assignment without a key or '='.
nlohmann::json parse_option_assignments(const std::vector<std::string>& assignments);

/// Reads `key` from `j` into `out` if present, with a cfx::Error naming the key on a type
/// mismatch.
/// Floating-point values (alone or in a list) must be finite: every option's NaN or
/// infinity is refused here, once, rather than by each Options::validate().
template <class T>
void read_option(const nlohmann::json& j, const std::string& key, T& out) {
  if (!j.contains(key)) return;
  try {
    out = j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    fail("option ", key, ": cannot use value ", j.at(key).dump());
  }
  auto finite = [&](double v) {
    CFX_CHECK(std::isfinite(v), "option ", key, ": ", v, " is not a finite number");
  };
  if constexpr (std::is_floating_point_v<T>) {
    finite(out);
  } else if constexpr (std::is_same_v<T, std::vector<double>> ||
                       std::is_same_v<T, std::vector<float>>) {
    for (auto v : out) finite(v);
  }
}

}  // namespace cfx
