#include "cfx/core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "cfx/core/log.h"

namespace cfx {

ProgressBar::ProgressBar(std::string label, int64_t total, int64_t unit)
    : label_(std::move(label)),
      total_(total > 0 ? total : 1),
      unit_(unit),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  if (!finished_ && done_ > 0) finish();
}

void ProgressBar::update(int64_t done, const std::string& status) {
  if (finished_) return;  // a finished bar stays as it was drawn
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  int decile = static_cast<int>(10 * done_ / total_);
  if (tty_) {
    // Redrawing more than ~10 times a second only costs time.
    if (now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  } else if (decile == last_decile_) {
    return;
  }
  last_decile_ = decile;
  last_draw_ = now;
  draw(status, false);
}

void ProgressBar::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  done_ = total_;
  draw(status, true);
}

void ProgressBar::draw(const std::string& status, bool final) {
  if (quiet()) return;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int width = 30;
  int filled = static_cast<int>(width * done_ / total_);
  std::string bar(filled, '#');
  bar += std::string(width - filled, '.');
  std::string extra;
  if (unit_ > 0)
    extra = " " + std::to_string(done_ / unit_) + "/" + std::to_string(total_ / unit_) + " items";
  // Time left if the rest goes at the pace so far.
  if (!final && done_ > 0 && done_ < total_) {
    char eta[32];
    std::snprintf(eta, sizeof(eta), " eta %.0fs", secs * (total_ - done_) / done_);
    extra += eta;
  }
  if (!status.empty()) extra += " " + status;
  std::fprintf(stderr, "%s%s [%s] %3d%% %6.1fs%s%s", tty_ ? "\r\033[K" : "", label_.c_str(),
               bar.c_str(), static_cast<int>(100 * done_ / total_), secs, extra.c_str(),
               (final || !tty_) ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace cfx
