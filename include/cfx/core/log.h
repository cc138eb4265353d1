// Diagnostics to stderr. Notices are for things a user should know but that do not
// stop the run (an image was resized, a loss term does not apply).
#pragma once

#include <string>

namespace cfx {

/// Prints "cfx: note: <msg>" to stderr unless quiet mode is on.
void notice(const std::string& msg);

/// Silences notices and progress output (tests, --quiet).
void set_quiet(bool quiet);
bool quiet();

}  // namespace cfx
