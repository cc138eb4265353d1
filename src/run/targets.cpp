#include "cfx/run/targets.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/eval/metrics.h"

namespace cfx {
namespace {

// A fixed class for `spec`, or -1 for "auto" and "pred".
int64_t fixed_class(const std::string& spec, const Classifier& F, const std::string& where) {
  if (spec == "auto" || spec == "pred") return -1;
  auto t = parse_class(spec, F.class_names());
  CFX_CHECK(t.has_value(), "target '", spec, "'", where,
            " is not 'auto', 'pred', a class index or a class name of this model");
  CFX_CHECK(*t >= 0 && *t < F.num_classes(), "target ", *t, where,
            " is out of range: the model has ", F.num_classes(), " classes (0..",
            F.num_classes() - 1, ")");
  return *t;
}

}  // namespace

std::optional<int64_t> parse_class(const std::string& spec,
                                   const std::vector<std::string>& class_names) {
  for (size_t i = 0; i < class_names.size(); ++i)
    if (class_names[i] == spec) return static_cast<int64_t>(i);
  size_t pos = 0;
  int64_t t = -1;
  try {
    t = std::stoll(spec, &pos);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (pos != spec.size()) return std::nullopt;
  return t;
}

torch::Tensor resolve_targets(const std::vector<std::string>& specs, Classifier& F,
                              const torch::Tensor& images) {
  const int64_t n = images.size(0);
  CFX_CHECK(specs.size() == 1 || static_cast<int64_t>(specs.size()) == n, "got ", specs.size(),
            " targets for ", n, " items (give one for all, or one per item)");
  const bool per_item = specs.size() > 1;
  bool needs_auto = false, needs_pred = false;
  std::vector<int64_t> fixed;
  for (size_t i = 0; i < specs.size(); ++i) {
    fixed.push_back(
        fixed_class(specs[i], F, per_item ? " of item " + std::to_string(i) : std::string()));
    needs_auto |= specs[i] == "auto";
    needs_pred |= specs[i] == "pred";
  }
  torch::Tensor runner_up, predicted;
  if (needs_auto) runner_up = runner_up_classes(F, images).cpu();
  if (needs_pred) predicted = F.predict_proba(images).argmax(1).cpu();
  auto out = torch::empty({n}, torch::kLong);
  auto o = out.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& s = specs[per_item ? i : 0];
    const int64_t f = fixed[per_item ? i : 0];
    o[i] = f >= 0 ? f : (s == "auto" ? runner_up[i] : predicted[i]).item<int64_t>();
  }
  return out;
}

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\"");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\"") - b + 1);
}

// A JSON target: a class index or a spec string.
std::string spec_of(const nlohmann::json& v, const std::string& path, const std::string& key) {
  CFX_CHECK(v.is_string() || v.is_number_integer(), "targets file ", path, ": the target of ", key,
            " must be a class name, index, \"auto\" or \"pred\", got ", v.dump());
  return v.is_string() ? v.get<std::string>() : std::to_string(v.get<int64_t>());
}

}  // namespace

std::vector<std::string> read_target_file(const std::string& path,
                                          const std::vector<std::string>& inputs) {
  const std::string text = read_file(path);                  // names the path if it is missing
  std::vector<std::pair<std::string, std::string>> entries;  // (input, spec), file order
  std::vector<std::string> ordered;                          // a JSON array
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '{' || text[first] == '[')) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    CFX_CHECK(!j.is_discarded(), "targets file ", path, " is not valid JSON");
    if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i)
        ordered.push_back(spec_of(j[i], path, "item " + std::to_string(i)));
      CFX_CHECK(ordered.size() == inputs.size(), "targets file ", path, " has ", ordered.size(),
                " targets for ", inputs.size(), " items");
      return ordered;
    }
    for (const auto& [k, v] : j.items()) entries.emplace_back(k, spec_of(v, path, k));
  } else {
    std::istringstream in(text);
    std::string line;
    for (int line_no = 1; std::getline(in, line); ++line_no) {
      if (trim(line).empty()) continue;
      const auto comma = line.rfind(',');
      CFX_CHECK(comma != std::string::npos, "targets file ", path, " line ", line_no,
                ": expected input,target, got '", trim(line), "'");
      auto input = trim(line.substr(0, comma)), spec = trim(line.substr(comma + 1));
      if (entries.empty() && input == "input" && spec == "target") continue;  // header
      CFX_CHECK(!input.empty() && !spec.empty(), "targets file ", path, " line ", line_no,
                ": expected input,target, got '", trim(line), "'");
      entries.emplace_back(input, spec);
    }
  }
  // Exact names first, then file names that only one item has.
  std::map<std::string, size_t> exact, base;
  std::map<std::string, int> base_count;
  for (size_t i = 0; i < inputs.size(); ++i) {
    exact[inputs[i]] = i;
    auto b = std::filesystem::path(inputs[i]).filename().string();
    base[b] = i;
    ++base_count[b];
  }
  std::vector<std::string> specs(inputs.size());
  for (const auto& [input, spec] : entries) {
    size_t i = 0;
    if (exact.count(input)) {
      i = exact[input];
    } else {
      CFX_CHECK(base_count[input] == 1, "targets file ", path, " names '", input, "', which is ",
                base_count[input] ? "the file name of several items" : "no item",
                " of this run (items are named like '", inputs.empty() ? "" : inputs[0], "')");
      i = base[input];
    }
    CFX_CHECK(specs[i].empty(), "targets file ", path, " gives item '", inputs[i], "' two targets");
    specs[i] = spec;
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    CFX_CHECK(!specs[i].empty(), "targets file ", path, " has no target for item '", inputs[i], "'",
              entries.size() < inputs.size()
                  ? " (it has " + std::to_string(entries.size()) + " entries for " +
                        std::to_string(inputs.size()) + " items)"
                  : std::string());
  return specs;
}

}  // namespace cfx
