// IDX files (MNIST and Fashion-MNIST, plain or gzipped). The first byte picks labels or
// images and whether the rest is read as a .gz file.
#include "cfx/data/idx.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const std::string plain = cfx::fuzz::scratch("-ubyte"), gz = plain + ".gz";
  const bool zipped = data[0] & 1, images = data[0] & 2;
  const std::string& path = zipped ? gz : plain;
  cfx::fuzz::put(path, data + 1, size - 1);
  cfx::fuzz::expect_clean([&] {
    if (images)
      cfx::read_idx_images(path);
    else
      cfx::read_idx_labels(path);
  });
  return 0;
}
