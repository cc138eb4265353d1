#include "cli/cli_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <vector>

#include "cfx/config.h"
#include "commands.h"

namespace cfx::testing {

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void flush_all() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(stdout);
  std::fflush(stderr);
}

// `cfx args` through the program's own entry point in this process, with stdout and stderr
// sent to the files `out` and `err` and stdin from /dev/null; nullopt if `args` is not plain
// words (quotes and $VARIABLES are fine; redirections, pipes and `$(...)` need a shell).
std::optional<int> run_in_process(const std::string& args, const std::string& out,
                                  const std::string& err) {
  wordexp_t words;
  if (wordexp(args.c_str(), &words, WRDE_NOCMD | WRDE_UNDEF) != 0) return std::nullopt;
  std::vector<std::string> argv_text = {"cfx"};
  for (size_t i = 0; i < words.we_wordc; ++i) argv_text.emplace_back(words.we_wordv[i]);
  wordfree(&words);
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);

  flush_all();
  const int saved[3] = {::dup(0), ::dup(1), ::dup(2)};
  const int in = ::open("/dev/null", O_RDONLY);
  const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(in, 0);
  ::dup2(o, 1);
  ::dup2(e, 2);
  const int code = cfx::cli::run_command_line(static_cast<int>(argv_text.size()), argv.data());
  flush_all();
  for (int fd = 0; fd < 3; ++fd) {
    ::dup2(saved[fd], fd);
    ::close(saved[fd]);
  }
  ::close(in);
  ::close(o);
  ::close(e);
  return code;
}

}  // namespace

CliRun run_cfx(const std::string& args, const std::string& setup) {
  static int counter = 0;
  auto base = std::filesystem::temp_directory_path() /
              ("cfx_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::string out = base.string() + ".out", err = base.string() + ".err";
  CliRun r;
  auto code = setup.empty() ? run_in_process(args, out, err) : std::nullopt;
  if (code) {
    r.code = *code;
  } else {
    std::string cmd =
        setup + " " + std::string(CFX_BIN) + " " + args + " >" + out + " 2>" + err + " </dev/null";
    int status = std::system(cmd.c_str());
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
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
