// One function per subcommand; each adds its subcommand and options to `app`.
#pragma once

#include <CLI/CLI.hpp>

namespace cfx::cli {

/// The cfx program: parses argv, runs the command, prints errors as one line; returns the
/// exit code. Process-wide settings it changes (quiet, threads) are given back.
int run_command_line(int argc, char** argv);

void add_methods_command(CLI::App& app);
void add_info_command(CLI::App& app);
/// `train <kind>` for every trainer of the library (run/train_job.h).
void add_train_command(CLI::App& app);
void add_explain_command(CLI::App& app);
/// `explain-text`: AIP counterfactual sentences (METHODS.md §4).
void add_explain_text_command(CLI::App& app);
void add_eval_command(CLI::App& app);
/// `global`: necessity and sufficiency of attributes for an outcome (METHODS.md §3).
void add_global_command(CLI::App& app);
void add_saliency_command(CLI::App& app);

}  // namespace cfx::cli
