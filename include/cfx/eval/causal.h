// Global causal explanations (METHODS.md §3): how much an outcome of the classifier F (a class
// or a set of classes) depends on each attribute, estimated by intervening on the attribute
// through the shift predictor over many samples of the generator, with bootstrap intervals.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/methods/method.h"
#include "cfx/models/attributes.h"
#include "cfx/models/classifier.h"
#include "cfx/models/generator.h"
#include "cfx/models/shifter.h"

namespace cfx {

/// What the interventions did, per sample s and attribute k (S samples, K attributes).
struct InterventionSamples {
  std::vector<std::string> names;  // K attribute names
  torch::Tensor attr;              // [S, K] bool: A sees attribute k in the sample G(w)
  torch::Tensor outcome;           // [S] bool: F's decision on G(w) is in the outcome set
  torch::Tensor prob;              // [S] float: F's probability of the outcome set on G(w)
  torch::Tensor outcome_on;        // [S, K] bool: outcome after do(k on)
  torch::Tensor outcome_off;       // [S, K] bool: outcome after do(k off)
  torch::Tensor prob_on;           // [S, K] float: probability of the outcome after do(k on)
  torch::Tensor prob_off;          // [S, K] float: ... after do(k off)
  torch::Tensor took_on;           // [S, K] bool: A sees attribute k after do(k on)
  torch::Tensor took_off;          // [S, K] bool: A no longer sees it after do(k off)
  /// [S, K] bool, or undefined: took_on / took_off as the shapes reader sees the pixels
  /// (data/shapes_reader.h), when G draws shapes images and A reads the shapes attributes. A
  /// generator can satisfy A without drawing the attribute; the pixels tell.
  torch::Tensor pixels_took_on, pixels_took_off;
  /// [S] int64: which shift predictor made the sample's edits (0 to G-1; undefined: all 0).
  /// Every group must hold the same number of samples; the bootstrap resamples groups, then
  /// samples within each, so intervals include the variation between shift predictors.
  torch::Tensor group;
  /// Throws cfx::Error unless every field has the shapes above.
  void check() const;
  /// Number of groups (1 when `group` is undefined).
  int64_t groups() const;
};

/// Gathers a sampler's batches into InterventionSamples. Per batch: begin() with the unedited
/// samples' attributes (as the attribute reader sees them) and F's view of them, then for every
/// scored attribute in order, do(on) and then do(off) with add(); finish() concatenates.
class InterventionCollector {
 public:
  /// attr: [B, K'] bool; outcome: [B] bool; prob: [B] float (all on the CPU).
  void begin(torch::Tensor attr, torch::Tensor outcome, torch::Tensor prob);
  /// F's view of do(X on) (`on`) or do(X off) of the batch ([B] bool, [B] float) and whether
  /// the reader sees X in the requested state afterwards ([B] bool).
  /// took_pixels: the same read from the pixels ([B] bool), or undefined in every add().
  void add(bool on, torch::Tensor outcome, torch::Tensor prob, torch::Tensor took,
           torch::Tensor took_pixels = {});
  /// The samples of every batch so far; `names`: the K' scored attributes, in add() order.
  InterventionSamples finish(std::vector<std::string> names);

 private:
  void close_batch();
  std::vector<torch::Tensor> attr_, outcome_, prob_, on_o_, off_o_, on_p_, off_p_, on_t_, off_t_;
  std::vector<torch::Tensor> b_on_o_, b_off_o_, b_on_p_, b_off_p_, b_on_t_, b_off_t_;
  std::vector<torch::Tensor> on_px_, off_px_, b_on_px_, b_off_px_;  // took by pixels
};

/// Interleaves the samples of G shift predictors taken on the same latents (row s·G + g is
/// sample s of parts[g]) and sets `group`, so that any split of the latents, concatenated in
/// order, gives the same rows. Throws cfx::Error if the parts differ in size or attributes.
InterventionSamples interleave_groups(const std::vector<InterventionSamples>& parts);

/// An estimate with its bootstrap percentile interval; n is how many samples it rests on
/// (a conditional probability rests on the samples that meet its condition). With n = 0 the
/// estimate is undefined and stored as NaN (null in JSON).
struct Interval {
  double estimate = 0, lo = 0, hi = 0;
  int64_t n = 0;
  nlohmann::json to_json() const;
};

/// The scores of one attribute X for outcome o:
///  necessity    P(not o after do(X off) | X on, o)
///  sufficiency  P(o after do(X on) | X off, not o)
///  nesuf        P(o after do(X on)) − P(o after do(X off)), over all samples
///  contrastive  mean of p_o after do(X on) − p_o after do(X off), over all samples
/// and how often the intervention took (A sees the requested state afterwards). The placebo
/// is the same pipeline asked for the state X already has — do(X on) where X is on, do(X off)
/// where it is off — so it measures how often the edit alone changes the outcome:
///  necessity_placebo     P(not o after do(X on) | X on, o)
///  sufficiency_placebo   P(o after do(X off) | X off, not o)
/// and the adjusted scores are raw − placebo over the same samples (bootstrapped together).
/// An exact generator (the oracle) leaves such samples unchanged: placebo 0, adjusted = raw.
struct CausalScores {
  std::string attribute;
  Interval necessity, sufficiency, nesuf, contrastive;
  Interval necessity_placebo, sufficiency_placebo, necessity_adjusted, sufficiency_adjusted;
  double on_rate = 0, off_rate = 0;
  /// The same rates read from the pixels (InterventionSamples::pixels_took_on); NaN (null in
  /// JSON) where the samples were not read so.
  double on_rate_pixels = std::numeric_limits<double>::quiet_NaN();
  double off_rate_pixels = std::numeric_limits<double>::quiet_NaN();
  nlohmann::json to_json() const;
};

struct CausalOptions {
  int64_t bootstrap = 1000;  // bootstrap resamples of the samples, >= 10
  double confidence = 0.95;  // coverage of the percentile intervals, in (0, 1)
  uint64_t seed = 0;         // seeds the resampling
  void validate() const;
};

/// Scores per attribute, in the order of samples.names.
std::vector<CausalScores> causal_scores(const InterventionSamples& samples,
                                        const CausalOptions& options);

/// F's view of an outcome (a set of F's classes) for the intervention samplers. The classes
/// are checked once (cfx::Error: none given, or one out of range for F); then read(x) gives
/// per image whether F's decision is in the set ([N] bool) and the set's probability ([N]
/// float), both on the CPU. x: [N, C, H, W] on F's device.
class OutcomeReader {
 public:
  OutcomeReader(Classifier& F, const std::vector<int64_t>& outcome);
  void read(const torch::Tensor& x, torch::Tensor& in_outcome, torch::Tensor& prob) const;

 private:
  Classifier& F_;
  torch::Tensor in_set_;   // [num_classes] bool
  torch::Tensor classes_;  // [|outcome|] int64
};

struct SamplingOptions {
  int64_t samples = 2000;    // latents drawn from N(0, I), >= 1
  int64_t batch_size = 256;  // latents rendered together
  double strength = 1.0;     // scale of the shift predictor's step, > 0
  uint64_t seed = 0;         // seeds the latents
  std::string only;          // attributes to score, comma-separated ("": all)
  torch::Tensor latents;     // [S', L]: use these latents (e.g. encoded real images)
                             // instead of drawing `samples` from N(0, I); undefined: draw
  void validate() const;
};

/// Draws latents (or takes options.latents), renders them with G, and intervenes on every attribute
/// both ways through S, recording A's and F's view of each image. `outcome`: class indices of F.
/// Throws cfx::Error if a class is out of range or G's images do not fit F. `progress`, if
/// set, is called after every batch with (samples done, samples in all, samples left).
InterventionSamples sample_interventions(Classifier& F, const std::vector<int64_t>& outcome,
                                         Generator& G, AttributeClassifier& A, Shifter& S,
                                         const SamplingOptions& options,
                                         const ProgressFn& progress = {});

}  // namespace cfx
