// What `cfx global` does, as one library call: sample the generator, intervene on every
// attribute through the shift predictor, and score how much an outcome of the classifier
// depends on each (METHODS.md §3), in memory; and a writer for the CLI's files (global.json,
// global.png, report.html).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cfx/eval/causal.h"

namespace cfx {

/// One global scoring run. Defaults are the CLI's.
struct GlobalJob {
  std::vector<std::string> outcome;  // the outcome: class names or indices of the classifier
  std::string via = "shift";         // shift: intervene through the shift predictor in the
                                     // generator's latent (the paper); code: change the
                                     // attribute code of a conditional generator (a cvae) and
                                     // keep its z (latents data only)
  std::string generator;             // "": the one the shifter was trained with (via code:
                                     // <dataset>-cvae.pt beside the classifier; several,
                                     // comma-separated, trained independently: the
                                     // intervals then include their variation); "oracle":
                                     // the shapes renderer, exact interventions (true scores)
  std::string attributes;            // "": the one the shifter (or cvae) was trained with
  std::string shifter;               // "": <dataset>-shifter.pt beside the classifier;
                                     // "a.pt,b.pt,c.pt": several of one generator, the
                                     // intervals then include their variation
  std::string latents = "data";      // data: encode real images; prior: draw from N(0, I)
  std::string data;                  // images to encode ("": the classifier's dataset)
  std::string split = "test";        // split of `data`
  int64_t samples = 2000;            // images encoded, or latents drawn (>= 1)
  int64_t batch_size = 256;          // samples rendered together
  double strength = 1.0;             // scale of the shift predictor's step (> 0)
  std::string only;                  // attributes to score, comma-separated ("": all)
  int64_t bootstrap = 1000;          // bootstrap resamples (>= 10)
  double confidence = 0.95;          // interval coverage, in (0, 1)
  uint64_t seed = 0;                 // seeds the samples and the bootstrap
  std::string device = "cpu";        // cpu, cuda or cuda:<i>
  std::string reference = "auto";    // auto: on shapes, also score through the oracle
                                     // generator and report each learned score's distance
                                     // to the true one; none: do not

  /// Throws cfx::Error naming the field and value that is wrong.
  void validate() const;
  nlohmann::json to_json() const;
  /// Unknown keys are an error; missing keys keep their defaults.
  static GlobalJob from_json(const nlohmann::json& j);
};

/// What a global run produced, in memory.
struct GlobalOutcome {
  std::vector<CausalScores> scores;  // per attribute, in the attribute classifier's order
  nlohmann::json document;           // global.json
  torch::Tensor chart;               // [3, H, W] uint8: global.png's bar chart
};

/// Runs `job` on F (its companion models found as the job says). `run_info` is recorded as
/// global.json's "run". Progress: samples done of all after every batch.
GlobalOutcome run_global(const GlobalJob& job, std::shared_ptr<Classifier> F,
                         nlohmann::json run_info = nlohmann::json::object(),
                         const ProgressFn& progress = {});

/// The three steps of run_global(), for a run that samples elsewhere (cfx.distributed): the
/// latents (the encoded real images, or drawn from N(0, I) with the job's seed, as
/// run_global draws them), the intervention samples of any rows of them (each sample depends
/// only on its latent, so rows may be sampled in any split), and the scores and global.json
/// of all samples. `sample_seconds` is what the sampling took, for the summary.
struct GlobalLatents {
  torch::Tensor latents;  // [S, L] on the CPU (oracle: [S, 11] float64, scene and item;
                          // via code: [S, L + K + 1], z, the attribute code and a coin,
                          // one such block per cvae, side by side)
  std::string source;     // "N(0, I)", or "mnist:test (S images)"
};
GlobalLatents global_latents(const GlobalJob& job, std::shared_ptr<Classifier> F);
InterventionSamples global_samples(const GlobalJob& job, std::shared_ptr<Classifier> F,
                                   const torch::Tensor& latents, const ProgressFn& progress = {});
GlobalOutcome global_outcome(const GlobalJob& job, std::shared_ptr<Classifier> F,
                             const InterventionSamples& samples, const std::string& source,
                             double sample_seconds,
                             nlohmann::json run_info = nlohmann::json::object());

/// Writes global.json, global.png and report.html into `dir`.
void write_global(const GlobalOutcome& outcome, const std::string& dir);

/// The table `cfx global` prints.
std::string global_table(const GlobalOutcome& outcome);

}  // namespace cfx
