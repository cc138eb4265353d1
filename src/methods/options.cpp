#include "cfx/methods/options.h"

namespace cfx {

void check_option_keys(const std::string& owner, const nlohmann::json& given,
                       const nlohmann::json& defaults) {
  CFX_CHECK(given.is_object(), owner, " options must be a JSON object, got ", given.dump());
  for (const auto& item : given.items()) {
    if (defaults.contains(item.key())) continue;
    std::string known;
    for (const auto& d : defaults.items()) known += (known.empty() ? "" : ", ") + d.key();
    fail("unknown option '", item.key(), "' for ", owner, "; known: ", known);
  }
}

nlohmann::json parse_option_assignments(const std::vector<std::string>& assignments) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& s : assignments) {
    auto eq = s.find('=');
    CFX_CHECK(eq != std::string::npos && eq > 0, "--set expects key=value, got '", s, "'");
    std::string key = s.substr(0, eq), value = s.substr(eq + 1);
    // JSON text must be UTF-8: an invalid byte would only fail later, when the options are
    // written (found by fuzz_options).
    try {
      nlohmann::json(s).dump();
    } catch (const nlohmann::json::exception&) {
      fail("--set ",
           nlohmann::json(s).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace),
           " is not valid UTF-8 text");
    }
    auto parsed = nlohmann::json::parse(value, nullptr, false);
    j[key] = parsed.is_discarded() ? nlohmann::json(value) : parsed;
  }
  return j;
}

}  // namespace cfx
