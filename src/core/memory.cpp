#include "cfx/core/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

namespace cfx {

namespace {

// A "Vm...:  123 kB" line of /proc/self/status in kB, or -1.
long long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::atoll(line.c_str() + n + 1);
  return -1;
}

}  // namespace

PeakMemory::PeakMemory() {
#if defined(__linux__)
#if defined(__GLIBC__)
  malloc_trim(0);  // freed blocks kept by keep_freed_memory() would otherwise be reused unseen
#endif
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return;
  bool ok = std::fputs("5", f) >= 0;
  ok = std::fclose(f) == 0 && ok;
  if (ok) baseline_kb_ = status_kb("VmRSS");
#endif
}

double PeakMemory::peak_mb() const {
  if (baseline_kb_ < 0) return std::numeric_limits<double>::quiet_NaN();
  long long hwm = status_kb("VmHWM");
  if (hwm < 0) return std::numeric_limits<double>::quiet_NaN();
  return hwm > baseline_kb_ ? static_cast<double>(hwm - baseline_kb_) / 1024.0 : 0.0;
}

}  // namespace cfx
