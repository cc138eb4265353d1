// Who calls the library — the command line or Python — so that a message names an option the
// way that user types it ("--batch-size" there, "batch_size" here). One setting per process:
// the CLI keeps the default, the Python module sets `python` when it is imported.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cfx {

enum class Surface { command_line, python };

/// Sets the surface for the rest of the process.
void set_surface(Surface s);

/// The surface in force (default: command_line).
Surface surface();

/// Option `name`, given in its command-line spelling without dashes ("batch-size"), as the
/// user types it: "--batch-size" on the command line, "batch_size" in Python.
std::string option(const std::string& name);

/// The option with an example value: option("input-shape", "C,H,W", "(C, H, W)") is
/// "--input-shape C,H,W" on the command line and "input_shape=(C, H, W)" in Python.
std::string option(const std::string& name, const std::string& cli_value,
                   const std::string& python_value);

/// `cli` on the command line, `python` in Python: a reference to another command, e.g.
/// for_surface("`cfx methods`", "cfx.methods()").
std::string for_surface(const std::string& cli, const std::string& python);

/// How to train a model of `kind` with the options `args` (name, example value as the command
/// line takes it; "" for a switch such as head-only): "`cfx train classifier --head duq`" or
/// "`cfx.train("classifier", out=PATH, head="duq")`".
std::string train_call(const std::string& kind,
                       const std::vector<std::pair<std::string, std::string>>& args);

}  // namespace cfx
