// A progress bar on stderr: redrawn in place on a terminal (at most ten times a second), a
// line per tenth done otherwise (CI logs), nothing in quiet mode. Shows the time so far and,
// once something is done, an estimate of the time left.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cfx {

class ProgressBar {
 public:
  /// `unit`: the number of units that make one item of the status text's "k/n items" (0: no
  /// item count), e.g. explain()'s kProgressUnit.
  ProgressBar(std::string label, int64_t total, int64_t unit = 0);
  ~ProgressBar();
  /// Sets the number of finished units and an optional status text ("loss 0.31").
  void update(int64_t done, const std::string& status = "");
  /// Completes the bar (prints the final line once).
  void finish(const std::string& status = "");

 private:
  void draw(const std::string& status, bool final);
  std::string label_;
  int64_t total_;
  int64_t unit_;
  int64_t done_ = 0;
  int last_decile_ = -1;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace cfx
