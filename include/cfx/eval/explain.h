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
  torch::Tensor batch_peak_mb;  // [N] float: peak memory (core/memory.h) of the item's batch
                                // run, MB above the level before it; NaN if not measurable
  torch::Tensor item_peak_mb;   // [N] float: batch_peak_mb / the number of items in the batch
  int64_t resumed_batches = 0;  // batches loaded from BatchFiles instead of run
  int64_t workers = 1;          // batches that ran side by side (explain()'s `workers`)
};

/// Where explain() keeps each finished batch (batch_store.h) so a killed run can resume.
struct BatchFiles {
  std::string dir;      // folder of the batch files; empty: keep nothing
  bool resume = false;  // reuse the batches an earlier run with the same settings finished
};

/// Work units per item in the progress explain() reports (see explain()).
constexpr int64_t kProgressUnit = 1000;

/// The settings the batch files of explain(method, request, batch_size) are kept under: the
/// method's configuration, seed, device, batch size, item count and a fingerprint of the
/// model's weights, the images and the targets. A resumed run must match them exactly; a
/// distributed run writes them beside the batches its workers computed.
nlohmann::json batch_settings(const Method& method, const Request& request, int64_t batch_size);

/// Runs `method` on `request` in chunks of at most `batch_size` items (each chunk one
/// batched optimisation, seeded with request.seed + its first item's index, so an item's
/// result depends on its batch, not on what ran before) and scores the counterfactuals or
/// saliency maps. Shapes as in Request/Result. With files.dir set, every finished batch is
/// stored there; with files.resume, stored batches are loaded instead of run, and the
/// result equals that of an uninterrupted run (cfx::Error if the stored batches were made
/// with other settings). request.progress, if set, is called after every optimisation step
/// of every chunk with (work done, total work, items not finished), work counted in
/// kProgressUnit per item, so a bar moves within a long batch and not only between batches;
/// it is always called on the thread that called explain() (with batches side by side, at
/// least every 100 ms), and an exception it throws stops the run (Ctrl-C in Python).
///
/// `workers` chunks run side by side on the CPU, each on its own thread with threads() /
/// workers intra-op threads, when the method allows it (Method::concurrent_runs()) and there
/// are at least two chunks; 0 means one per intra-op thread, 1 one chunk at a time with all
/// threads (always so on CUDA). Every chunk then runs at the same thread count, so results
/// equal a serial run's at that count bitwise, and a serial run's at another count to float
/// tolerance. Side by side, result.seconds is the wall time and each chunk's peak memory is
/// the run's peak so far divided by `workers`.
Explanation explain(Method& method, const Request& request, int64_t batch_size = 64,
                    const BatchFiles& files = {}, int64_t workers = 0);

}  // namespace cfx
