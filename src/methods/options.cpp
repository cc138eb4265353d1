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

}  // namespace cfx
