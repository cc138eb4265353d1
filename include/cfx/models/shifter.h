// The shift predictor S(w, t) -> Δw of METHODS.md §3: an MLP that learns, for a frozen
// generator G and attribute classifier A, which latent step turns attributes on or off
// (t ∈ {−1, 0, +1}^K: off, not requested, on). `cfx train shifter` trains it; its checkpoint
// (kind "shifter") records which G and A it was trained against.
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cfx/models/attributes.h"
#include "cfx/models/generator.h"

namespace cfx {

struct ShifterOptions {
  int64_t latent = 16;      // latent size L of the generator
  int64_t attributes = 11;  // number of attributes K of the attribute classifier
  int64_t hidden = 256;     // width of the two hidden layers
  void validate() const;
  nlohmann::json to_json() const;
  static ShifterOptions from_json(const nlohmann::json& j);
};

struct ShifterTrainOptions {
  int64_t steps = 3000;        // optimisation steps, each on fresh latents w ~ N(0, I)
  int64_t batch_size = 64;     // latents per step
  double lr = 1e-3;            // Adam learning rate
  double beta = 0.05;          // weight of ||Δw||₂ (METHODS.md: β ≈ 0.05)
  double keep_weight = 1.0;    // weight of the term that asks attributes not requested (t = 0)
                               // and not exclusive with a requested one to stay as A sees them
                               // now; 0 gives the paper's "don't care"
  double second = 0.3;         // probability that a sample also requests a second attribute
  uint64_t seed = 0;           // initialisation and the random latents and requests
  std::string device = "cpu";  // where to train
  int64_t eval_n = 1000;       // fresh latents for the flip rates reported after training
  /// Training until the flip rates converge (issue 14 part 3): every `check_every` steps the
  /// flip rates are measured on `check_n` held-out latents (the first of eval_latents, else
  /// fresh draws), and training stops once their score — the mean of the on, off and keep
  /// rates — has not risen by `tolerance` in `patience` checks; `steps` is then the most it
  /// may take. 0: exactly `steps` steps.
  int64_t check_every = 0;
  int64_t check_n = 500;       // latents per check, >= 1
  int64_t patience = 3;        // checks without a rise of `tolerance` before stopping, >= 1
  double tolerance = 0.005;    // the rise of the score that counts as progress, >= 0
  double cycle_weight = 1.0;   // weight of ||E(G(w + Δw)) − (w + Δw)||² when G has an encoder:
                               // edits whose image the encoder does not map back lie off the
                               // data, where the attribute classifier is easily fooled
  torch::Tensor latents;       // [M, L] latents to train on (e.g. encoded training images);
                               // undefined: w ~ N(0, I)
  torch::Tensor eval_latents;  // [M', L] latents for the reported flip rates; undefined: fresh
                               // draws from N(0, I)
  void validate() const;
  nlohmann::json to_json() const;
};

class Shifter {
 public:
  explicit Shifter(ShifterOptions options);
  /// w: [N, L], t: [N, K] in {-1, 0, 1} (on S's device). Returns Δw [N, L], differentiable in
  /// S's weights and in w.
  torch::Tensor shift(const torch::Tensor& w, const torch::Tensor& t);
  /// Trains S against frozen G and A; returns the loss curve's last values, the flip rates
  /// of measure_shifter on eval_n fresh latents, and with check_every the checks made
  /// ("checks": step, rates, score), "steps_taken" and "converged" (stopped by patience
  /// before the `steps` cap).
  nlohmann::json train(Generator& G, AttributeClassifier& A, const ShifterTrainOptions& options);
  void save(const std::string& path, nlohmann::json meta) const;
  /// Loads a checkpoint written by save(); throws cfx::Error naming the path on any problem.
  static std::shared_ptr<Shifter> load(const std::string& path);
  const ShifterOptions& options() const { return options_; }
  void to(torch::Device device);
  torch::Device device() const { return device_; }
  /// The sidecar it was loaded with (records "generator" and "attributes"), else empty.
  nlohmann::json meta;

 private:
  ShifterOptions options_;
  std::shared_ptr<torch::nn::Module> net_;
  torch::Device device_ = torch::kCPU;
};

/// Latents after do(attribute k = value) for every item: w + strength · S(w, t) with t the
/// one-hot request (value[i] = +1 on, −1 off). w: [N, L]; value: [N] in {−1, 1}. No gradient.
torch::Tensor intervene(Shifter& S, const torch::Tensor& w, int64_t k, const torch::Tensor& value,
                        double strength = 1.0);

/// How well S's edits work on `n` fresh latents (seeded), or on `latents` ([M, L]) when
/// defined: per attribute, "on_rate" (of the
/// samples A sees without the attribute, the fraction A sees with it after do(on)), "off_rate"
/// (likewise), "keep_rate" (of the other, non-exclusive attributes, the fraction unchanged) and
/// "shift_norm" (mean ||Δw||); plus their means over attributes.
nlohmann::json measure_shifter(Shifter& S, Generator& G, AttributeClassifier& A, int64_t n,
                               uint64_t seed, int64_t batch_size = 256,
                               const torch::Tensor& latents = {});

/// Throws cfx::Error unless S fits G's latent size and A's attribute count.
void check_shifter_fits(const Shifter& S, const Generator& G, const AttributeClassifier& A);

}  // namespace cfx
