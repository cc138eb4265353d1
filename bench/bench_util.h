// Small helpers shared by the benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <string>

#include "cfx/config.h"

namespace cfx::bench {

/// Path of a model shipped in the source tree's models/ folder.
inline std::string shipped_model(const std::string& name) {
  return std::string(CFX_SOURCE_DIR) + "/models/" + name;
}

/// A counter `name` in seconds per unit of work, when each iteration handles `units` units
/// (items of a batch, thousands of samples).
inline void seconds_per(benchmark::State& state, const char* name, double units) {
  state.counters[name] = benchmark::Counter(
      units, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace cfx::bench
