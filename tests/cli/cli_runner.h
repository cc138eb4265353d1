// Runs the real cfx binary for CLI tests.
#pragma once

#include <string>

namespace cfx::testing {

struct CliRun {
  int code = -1;    // exit status
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs `cfx <args>` through the shell (args are shell-quoted by the caller).
CliRun run_cfx(const std::string& args);

/// Checks DESIGN.md's error rule: exit code 2 and exactly one line "cfx: error: ..." that
/// contains `needle` (no torch backtrace).
void expect_user_error(const CliRun& r, const std::string& needle);

/// A shipped model file, e.g. shipped_model("fashion-mnist-cnn.pt").
std::string shipped_model(const std::string& name);

}  // namespace cfx::testing
