#include "cfx/core/surface.h"

#include <algorithm>
#include <atomic>

namespace cfx {
namespace {

std::atomic<Surface> g_surface{Surface::command_line};

std::string python_name(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// A Python literal for an example value: numbers and upper-case placeholders (PATH, D) stay
// as they are, other words are quoted.
std::string python_value(const std::string& v) {
  const bool placeholder =
      !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  const bool number = !v.empty() && v.find_first_not_of("0123456789.-e") == std::string::npos;
  return placeholder || number ? v : "\"" + v + "\"";
}

}  // namespace

void set_surface(Surface s) { g_surface = s; }

Surface surface() { return g_surface; }

std::string option(const std::string& name) {
  return surface() == Surface::python ? python_name(name) : "--" + name;
}

std::string option(const std::string& name, const std::string& cli_value,
                   const std::string& python_value) {
  return surface() == Surface::python ? python_name(name) + "=" + python_value
                                      : "--" + name + " " + cli_value;
}

std::string for_surface(const std::string& cli, const std::string& python) {
  return surface() == Surface::python ? python : cli;
}

std::string train_call(const std::string& kind,
                       const std::vector<std::pair<std::string, std::string>>& args) {
  std::string s;
  if (surface() == Surface::python) {
    s = "`cfx.train(\"" + kind + "\", out=PATH";
    for (const auto& [k, v] : args)
      if (k != "out") s += ", " + python_name(k) + "=" + (v.empty() ? "True" : python_value(v));
    return s + ")`";
  }
  s = "`cfx train " + kind;
  for (const auto& [k, v] : args) s += " --" + k + (v.empty() ? "" : " " + v);
  return s + "`";
}

}  // namespace cfx
