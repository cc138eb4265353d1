// A progress bar on stderr: redrawn in place on a terminal, a few plain lines otherwise
// (CI logs), nothing in quiet mode.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cfx {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total);
  ~ProgressBar();
  /// Sets the number of finished units and an optional status text ("loss 0.31").
  void update(int64_t done, const std::string& status = "");
  /// Completes the bar (prints the final line once).
  void finish(const std::string& status = "");

 private:
  void draw(const std::string& status, bool final);
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  int last_decile_ = -1;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace cfx
