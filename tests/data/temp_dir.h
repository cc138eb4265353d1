// Test helpers for the data layer: a scratch folder for one test (removed with everything in
// it when the test ends) and the message of an expected cfx::Error.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include "cfx/core/error.h"

namespace cfx::test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("cfx_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// The folder, or `name` inside it.
  std::string str(const std::string& name = "") const {
    return name.empty() ? path_.string() : (path_ / name).string();
  }

 private:
  std::filesystem::path path_;
};

/// The message of the cfx::Error that `f` throws, or "(no cfx::Error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cfx::Error& e) {
    return e.what();
  }
  return "(no cfx::Error)";
}

/// Whether `f` throws a cfx::Error whose message contains `part`.
inline bool throws_naming(const std::function<void()>& f, const std::string& part) {
  return error_of(f).find(part) != std::string::npos;
}

}  // namespace cfx::test
