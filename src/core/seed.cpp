#include "cfx/core/seed.h"

namespace cfx {

void seed_all(uint64_t seed) {
  torch::manual_seed(seed);
  if (torch::cuda::is_available()) torch::cuda::manual_seed_all(seed);
}

}  // namespace cfx
