// Checkpoint sidecars (<weights>.json beside every cfx checkpoint): read, checked for its
// kind, its zoo architecture options parsed and the network built, as loading does before
// it reads the weights.
#include "cfx/models/checkpoint.h"
#include "cfx/models/zoo.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string weights = cfx::fuzz::scratch(".pt");
  static const std::string sidecar = cfx::sidecar_path(weights);
  static const bool made = [] {
    cfx::fuzz::put(weights, nullptr, 0);
    return true;
  }();
  (void)made;
  cfx::fuzz::put(sidecar, data, size);
  cfx::fuzz::expect_clean([&] {
    auto meta = cfx::read_checkpoint_meta(weights, "classifier", "classifier", "cfx train");
    auto options = cfx::zoo_options_from_json(meta.value("arch_options", nlohmann::json()));
    cfx::make_zoo_net(options);
  });
  return 0;
}
