// The library entry point for counterfactual explanations: run a method over a batch and
// score what it produced. `cfx explain` is a thin layer over this.
#pragma once

#include "cfx/eval/metrics.h"
#include "cfx/methods/method.h"

namespace cfx {

struct Explanation {
  Result result;                // what the method produced
  CounterfactualScores scores;  // per-item metrics; empty for saliency-only methods
  SaliencyScores saliency;      // per-item metrics of saliency methods; else empty
  nlohmann::json config;        // method config plus seed and device
};

/// Runs `method` on `request` in chunks of at most `batch_size` items (each chunk one
/// batched optimisation) and scores the counterfactuals or saliency maps. Shapes as in
/// Request/Result.
Explanation explain(Method& method, const Request& request, int64_t batch_size = 64);

}  // namespace cfx
