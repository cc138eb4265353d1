#include <iostream>

#include "cfx/core/threads.h"
#include "commands.h"
#include "common.h"

namespace cfx::cli {

void add_info_command(CLI::App& app) {
  auto* sub = app.add_subcommand("info", "describe a classifier: shape, classes, hookable layers");
  auto flags = std::make_shared<ModelFlags>();
  sub->add_option("model", flags->path, "classifier file (cfx checkpoint or TorchScript)")
      ->required();
  sub->add_option("--input-shape", flags->input_shape, "override the input shape, C,H,W");
  sub->add_option("--classes", flags->classes, "override class names, comma-separated");
  auto* json_flag = sub->add_flag("--json", "print as JSON");
  on_selected(sub, [flags, json_flag] {
    auto F = flags->load();
    const auto& info = F->info();
    auto j = describe_classifier(*F);
    j["threads"] = threads();
    const auto& bn = j["bn_layers"];
    const auto& heads = j["heads"];
    if (json_flag->count()) {
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    const auto& s = info.input_shape;
    std::cout << "model:        " << info.source << "\n"
              << "arch:         " << info.arch << "\n"
              << "input shape:  [" << s[0] << ", " << s[1] << ", " << s[2] << "]\n"
              << "parameters:   " << F->num_parameters() << "\n"
              << "heads:        " << (heads.empty() ? "none" : heads.dump()) << "\n"
              << "classes (" << info.class_names.size() << "):";
    for (size_t i = 0; i < info.class_names.size(); ++i)
      std::cout << (i ? ", " : " ") << i << "=" << info.class_names[i];
    std::cout << "\nthreads:      " << threads_description();
    std::cout << "\nnormalisation: mean " << nlohmann::json(info.mean).dump() << ", std "
              << nlohmann::json(info.std).dump() << "\n";
    std::cout << "batch-norm layers (" << bn.size() << "):\n";
    for (const auto& l : bn)
      std::cout << "  " << l["name"].get<std::string>() << " (" << l["channels"] << " channels)\n";
    auto feats = F->feature_layers();
    std::cout << "feature layers (" << feats.size() << "):\n";
    for (const auto& f : feats) std::cout << "  " << f << "\n";
    return 0;
  });
}

}  // namespace cfx::cli
