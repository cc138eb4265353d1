// Runs the real cfx binary for CLI tests.
#pragma once

#include <string>
#include <vector>

namespace cfx::testing {

struct CliRun {
  int code = -1;    // exit status
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs `cfx <args>` (args are shell-quoted by the caller). Plain words run inside this
/// process through the program's entry point (cfx::cli::run_command_line; starting the
/// executable costs half a second of loading LibTorch); with a `setup` — environment
/// assignments ("CFX_X=1") or shell commands ("ulimit -f 8;") that go before the command — or
/// shell syntax in `args`, the real executable runs in a shell.
CliRun run_cfx(const std::string& args, const std::string& setup = "");

/// Checks DESIGN.md's error rule: exit code 2 and exactly one line "cfx: error: ..." that
/// contains `needle` (no torch backtrace).
void expect_user_error(const CliRun& r, const std::string& needle);

/// The progress-bar lines of `label` in a run's stderr (no terminal: one line per tenth of
/// the work), and how many of them are not the final 100% line.
struct ProgressLines {
  std::vector<std::string> lines;
  int partial = 0;
};
ProgressLines progress_lines(const std::string& err, const std::string& label);

/// A shipped model file, e.g. shipped_model("fashion-mnist-cnn.pt").
std::string shipped_model(const std::string& name);

}  // namespace cfx::testing
