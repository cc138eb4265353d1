#include "cli/cli_runner.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cfx/config.h"

namespace cfx::testing {

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

CliRun run_cfx(const std::string& args, const std::string& setup) {
  static int counter = 0;
  auto base = std::filesystem::temp_directory_path() /
              ("cfx_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::string out = base.string() + ".out", err = base.string() + ".err";
  std::string cmd =
      setup + " " + std::string(CFX_BIN) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

ProgressLines progress_lines(const std::string& err, const std::string& label) {
  ProgressLines out;
  std::istringstream lines(err);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(label + " [", 0) != 0) continue;
    out.lines.push_back(line);
    if (line.find("100%") == std::string::npos) ++out.partial;
  }
  return out;
}

std::string shipped_model(const std::string& name) {
  return std::string(CFX_SOURCE_DIR) + "/models/" + name;
}

void expect_user_error(const CliRun& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("cfx: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find("Exception raised from"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

}  // namespace cfx::testing
