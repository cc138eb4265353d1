// Reading a job struct back from JSON, the same way for every job of the run layer: the
// object may hold only the job's own fields (a typo is an error naming it and the known
// ones), a missing field keeps its default, a value of the wrong type names the job.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cfx/core/error.h"
#include "cfx/methods/options.h"

namespace cfx {

class JobReader {
 public:
  /// `known`: the job's to_json() with its defaults; `what`: "explain job", "eval job", ...
  JobReader(const nlohmann::json& j, const nlohmann::json& known, std::string what)
      : j_(j), what_(std::move(what)) {
    CFX_CHECK(j.is_object(), "a ", what_, " must be a JSON object, got ", j.dump());
    std::string names;
    for (const auto& [key, value] : known.items()) names += (names.empty() ? "" : ", ") + key;
    for (const auto& [key, value] : j.items())
      CFX_CHECK(known.contains(key), "unknown ", what_, " field '", key, "' (known: ", names, ")");
  }

  /// Sets `field` from the key if the object has it.
  template <typename T>
  void operator()(const char* key, T& field) const {
    if (!j_.contains(key)) return;
    CFX_CHECK(json_fits<T>(j_.at(key)), what_, ": ", key, " = ", j_.at(key).dump(),
              " (a whole number in range is needed)");
    try {
      field = j_.at(key).get<T>();
    } catch (const nlohmann::json::exception& e) {
      fail(what_, ": ", e.what());
    }
  }

 private:
  const nlohmann::json& j_;
  std::string what_;
};

}  // namespace cfx
