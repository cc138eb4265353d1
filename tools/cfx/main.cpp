// cfx: a thin command line over the library (command_line.cpp is the program).
#include <csignal>

#include "cfx/core/device.h"
#include "commands.h"

int main(int argc, char** argv) {
  cfx::keep_freed_memory();
  // Past a file-size limit (ulimit -f) the kernel kills the writer with SIGXFSZ unless it is
  // ignored; ignored, the write fails with EFBIG and cfx says so in one line (Python does
  // the same for its interpreter).
  std::signal(SIGXFSZ, SIG_IGN);
  return cfx::cli::run_command_line(argc, argv);
}
