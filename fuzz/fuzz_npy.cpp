// NumPy .npy arrays (saliency maps read back by tools and tests).
#include "cfx/report/npy.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = cfx::fuzz::scratch(".npy");
  cfx::fuzz::put(path, data, size);
  cfx::fuzz::expect_clean([&] { cfx::read_npy(path); });
  return 0;
}
