// Shared by the libFuzzer targets (docs/reliability.md). Each target feeds one parser of
// untrusted input; a cfx::Error is the expected answer to bad input, anything else escaping
// (another exception, a crash, a sanitizer report, a leak, > 2 GB) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "cfx/core/error.h"
#include "cfx/core/log.h"

namespace cfx::fuzz {

/// A scratch file name unique to this process, in TMPDIR (or /tmp), ending in `suffix`.
inline std::string scratch(const std::string& suffix) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/cfx-fuzz-" + std::to_string(::getpid()) +
         suffix;
}

/// Writes the input to `path` (plainly: speed matters more than atomicity here).
inline void put(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

/// Runs `f`; a cfx::Error is fine, any other exception aborts with its message.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const cfx::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "not a cfx::Error: %s\n", e.what());
    std::abort();
  }
}

}  // namespace cfx::fuzz

// Notes and notices would flood the fuzzer's output.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cfx::set_quiet(true);
  return 0;
}
