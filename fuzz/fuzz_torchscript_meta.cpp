// cfx.json, the metadata a TorchScript archive carries (input shape, classes, normalisation).
#include "cfx/models/torchscript_classifier.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  cfx::fuzz::expect_clean([&] { cfx::parse_torchscript_meta("fuzz.pt", text); });
  return 0;
}
