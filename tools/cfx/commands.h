// One function per subcommand; each adds its subcommand and options to `app`.
#pragma once

#include <CLI/CLI.hpp>

namespace cfx::cli {

void add_methods_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_explain_command(CLI::App& app);
/// `train autoencoder`; needs add_train_command first.
void add_train_autoencoder_command(CLI::App& app);
/// `train inpainter`; needs add_train_command first.
void add_train_inpainter_command(CLI::App& app);
/// `train vae`, `train attributes`, `train shifter`; needs add_train_command first.
void add_train_latent_commands(CLI::App& app);
/// `train cvae`; needs add_train_command first.
void add_train_cvae_command(CLI::App& app);
/// `train text-classifier`, `train text-cvae`; needs add_train_command first.
void add_train_text_commands(CLI::App& app);
/// `explain-text`: AIP counterfactual sentences (METHODS.md §4).
void add_explain_text_command(CLI::App& app);
void add_eval_command(CLI::App& app);
/// `global`: necessity and sufficiency of attributes for an outcome (METHODS.md §3).
void add_global_command(CLI::App& app);
void add_saliency_command(CLI::App& app);

}  // namespace cfx::cli
