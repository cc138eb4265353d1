// Image decoding (--image, --images folders, ImageFolder datasets): any bytes named .png.
#include "cfx/data/image_io.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = cfx::fuzz::scratch(".png");
  cfx::fuzz::put(path, data, size);
  cfx::fuzz::expect_clean([&] {
    auto image = cfx::read_image(path);
    cfx::conform_image(image, {image.size(0), 16, 16}, path);
  });
  return 0;
}
