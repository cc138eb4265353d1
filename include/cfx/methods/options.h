// Helpers for Options structs that round-trip through JSON: unknown keys are errors that
// list the known ones, and values keep their types.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
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

namespace detail {
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
}  // namespace detail

/// Whether JSON value `v` becomes a T without an undefined or lossy conversion: an integral T
/// (not bool) takes integers in its range and floats that are whole numbers in it (nlohmann
/// would cast anything else: undefined behaviour for a double out of range, found by
/// fuzz_options with steps = 1e25); a vector, elements that each fit. Values of other types
/// are left to nlohmann's own type checks (true here).
template <class T>
bool json_fits(const nlohmann::json& v) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using L = std::numeric_limits<T>;
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(L::max());
    if (v.is_number_integer()) {
      const int64_t x = v.get<int64_t>();
      if constexpr (std::is_signed_v<T>) return x >= L::min() && x <= L::max();
      return x >= 0 && static_cast<uint64_t>(x) <= static_cast<uint64_t>(L::max());
    }
    if (v.is_number_float()) {
      const long double d = v.get<double>();
      return std::isfinite(d) && d == std::floor(d) && d >= static_cast<long double>(L::min()) &&
             d <= static_cast<long double>(L::max());
    }
    return true;
  } else if constexpr (detail::is_vector<T>::value) {
    if (!v.is_array()) return true;
    for (const auto& e : v)
      if (!json_fits<typename T::value_type>(e)) return false;
    return true;
  } else {
    return true;
  }
}

/// Reads `key` from `j` into `out` if present, with a cfx::Error naming the key on a type
/// mismatch.
/// Floating-point values (alone or in a list) must be finite: every option's NaN or
/// infinity is refused here, once, rather than by each Options::validate().
template <class T>
void read_option(const nlohmann::json& j, const std::string& key, T& out) {
  if (!j.contains(key)) return;
  CFX_CHECK(json_fits<T>(j.at(key)), "option ", key, ": cannot use value ", j.at(key).dump(),
            " (a whole number in range is needed)");
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
