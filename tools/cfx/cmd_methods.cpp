#include <iomanip>
#include <iostream>

#include "cfx/methods/registry.h"
#include "commands.h"
#include "common.h"

namespace cfx::cli {

void add_methods_command(CLI::App& app) {
  auto* sub = app.add_subcommand("methods", "list the explanation methods and their options");
  auto* json_flag = sub->add_flag("--json", "print the registry as JSON, with default options");
  on_selected(sub, [json_flag] {
    if (json_flag->count()) {
      std::cout << method_registry_json().dump(2) << "\n";
      return 0;
    }
    for (const auto& m : method_registry())
      std::cout << std::left << std::setw(10) << m.name << std::setw(16) << m.kind << m.description
                << "\n";
    return 0;
  });
}

}  // namespace cfx::cli
