#include "cfx/core/log.h"

#include <atomic>
#include <iostream>

namespace cfx {

namespace {
std::atomic<bool> g_quiet{false};
}

void notice(const std::string& msg) {
  // One write, so notes from batches running on several threads do not interleave.
  if (!g_quiet) std::cerr << ("cfx: note: " + msg + "\n");
}

void set_quiet(bool q) { g_quiet = q; }
bool quiet() { return g_quiet; }

}  // namespace cfx
