// Per-item target files (--targets FILE, CSV or JSON of input -> target).
#include "cfx/run/targets.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = cfx::fuzz::scratch("-targets.csv");
  static const std::vector<std::string> inputs = {"queries/a.png", "queries/b.png", "c.jpg",
                                                  "fashion-mnist:test:3"};
  cfx::fuzz::put(path, data, size);
  cfx::fuzz::expect_clean([&] { cfx::read_target_file(path, inputs); });
  return 0;
}
