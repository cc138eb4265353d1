// Reproducibility: same seed, same inputs, same machine -> same outputs.
#pragma once

#include <cstdint>

namespace cfx {

/// Seeds torch's CPU (and CUDA, when present) generators.
void seed_all(uint64_t seed);

}  // namespace cfx
