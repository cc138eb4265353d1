#include "cfx/core/log.h"

#include <atomic>
#include <iostream>

namespace cfx {

namespace {
std::atomic<bool> g_quiet{false};
}

void notice(const std::string& msg) {
  if (!g_quiet) std::cerr << "cfx: note: " << msg << "\n";
}

void set_quiet(bool q) { g_quiet = q; }
bool quiet() { return g_quiet; }

}  // namespace cfx
