// The whole cfx program but for main(): parsing and exit codes live here; each subcommand is
// one cmd_*.cpp file. The tests run commands through it inside their own process
// (tests/cli/cli_runner.cpp).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "cfx/config.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/core/memory.h"
#include "cfx/core/threads.h"
#include "commands.h"
#include "common.h"

namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// Every floating-point flag of the parsed command line must be finite: one check for all of
// them (CLI11 reads "nan" and "inf" as numbers; a method would then run on them).
void check_finite_flags(const CLI::App& app) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0 || opt->get_type_name().rfind("FLOAT", 0) != 0) continue;
    for (const auto& text : opt->results()) {
      double v = std::strtod(text.c_str(), nullptr);
      CFX_CHECK(std::isfinite(v), opt->get_name(), ": ", text, " is not a finite number");
    }
  }
  for (const CLI::App* sub : app.get_subcommands()) check_finite_flags(*sub);
}

}  // namespace

namespace cfx::cli {

namespace {

// The process-wide settings a command changes, given back when it returns (a test runs many
// commands in one process).
class CommandSettings {
 public:
  CommandSettings() : quiet_(cfx::quiet()), threads_(cfx::threads()) {}
  ~CommandSettings() {
    cfx::set_quiet(quiet_);
    cfx::set_threads(threads_);
    clear_actions();
  }
  CommandSettings(const CommandSettings&) = delete;
  CommandSettings& operator=(const CommandSettings&) = delete;

 private:
  bool quiet_;
  int threads_;
};

}  // namespace

int run_command_line(int argc, char** argv) {
  CommandSettings restore;  // also forgets this command's actions when it returns
  CLI::App app{"cfx " CFX_VERSION
               ": counterfactual explanations for image classifiers\n"
               "Run `cfx <command> --help` for a command's options and defaults."};
  app.set_version_flag("--version", CFX_VERSION);
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "no progress bars or notes")->configurable(false);
  int threads = 0;
  app.add_option("--threads", threads,
                 "CPU threads (0: OMP_NUM_THREADS if set, else one per CPU this process may use)")
      ->check(CLI::Range(0, 1024))
      ->configurable(false);
  app.fallthrough();

  add_methods_command(app);
  add_info_command(app);
  add_train_command(app);
  add_explain_command(app);
  add_explain_text_command(app);
  add_eval_command(app);
  add_saliency_command(app);
  add_global_command(app);

  set_invocation(argc, argv);
  // CLI11 would report an unknown command as "a subcommand is required"; name it instead.
  std::string known;
  bool is_command = false;
  for (const auto* sub : app.get_subcommands({})) {
    known += (known.empty() ? "" : ", ") + sub->get_name();
    is_command = is_command || (argc > 1 && sub->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !is_command) {
    std::cerr << "cfx: error: unknown command '" << argv[1] << "'; known: " << known << "\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "cfx: error: " << first_line(e.what()) << " (see cfx --help)\n";
    return 2;
  }
  cfx::set_quiet(quiet);
  try {
    check_finite_flags(app);
    cfx::set_threads(threads);
    return run_selected();
  } catch (const cfx::Error& e) {
    std::cerr << "cfx: error: " << first_line(e.what()) << "\n";
    return 2;
  } catch (const c10::Error& e) {
    // Torch errors reaching here come from shapes or values the library did not catch
    // earlier: still the user's input, but say where it came from.
    const std::string what = first_line(e.what_without_backtrace());
    if (cfx::is_out_of_memory(what)) {
      std::cerr << "cfx: error: out of memory; try a smaller --batch-size (libtorch: " << what
                << ")\n";
      return 2;
    }
    std::cerr << "cfx: error: libtorch: " << what << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "cfx: error: out of memory; try a smaller --batch-size\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cfx: internal error: " << first_line(e.what())
              << "\ncfx: please report this with the command you ran\n";
    return 1;
  }
}

}  // namespace cfx::cli
