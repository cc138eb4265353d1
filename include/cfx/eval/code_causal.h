// Global causal scores through the attribute code of a conditional generator (METHODS.md §3,
// `cfx global --via code`): each real image is encoded once, z = E(x, a0) with a0 = D(x), and
// an intervention on attribute X changes X's entry of the code and keeps z, G(z, a0 with X
// set). The cvae was trained to obey exactly such one-unit code changes (its `single`
// requests), whereas the shift predictor's steps in a VAE's latent move other attributes too
// (issue 14: 3.7 attributes per edit on shapes), so F's response measures the attribute more
// than the edit.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cfx/eval/causal.h"
#include "cfx/models/cvae.h"

namespace cfx {

/// The latents of real images for sample_code_interventions: rows [z, a0, u] of width L + K + 1,
/// z = E(x, a0) [L], a0 = D(x) [K] (probabilities), u ∈ [0, 1) a coin drawn with `seed` that
/// picks which other member of an exclusive group turns on when X is turned off. Each row
/// depends on its image (and the seed) alone, so rows can be sampled in any split.
/// images: [N, C, H, W] in [0, 1] on any device. Returns [N, L + K + 1] float on the CPU.
torch::Tensor code_latents(Cvae& G, AttributeClassifier& D, const torch::Tensor& images,
                           uint64_t seed, int64_t batch_size = 256);

/// The codes of do(X on) and do(X off), a: [N, K] codes a0, u: [N] coins, k: X's index;
/// exclusive: D.exclusive(). do(X on) sets X to 1 and the other members of X's exclusive group
/// to 0; do(X off) sets X to 0 and, if X is in a group, turns on the member the coin picks
/// among the others (a shape turned off becomes one of the other shapes, as the oracle
/// generator does it), the others to 0. Every other entry keeps its value. Returns [N, K].
torch::Tensor code_intervention(const torch::Tensor& a, const torch::Tensor& u, int64_t k, bool on,
                                const torch::Tensor& exclusive);

/// Decodes every latent row ([z, a0, u], see code_latents) and every attribute's do(on) and
/// do(off) of it, and records D's and F's view of each image, `batch_size` rows at a time.
/// `outcome`: class indices of F; `only`: attributes to score, comma-separated ("": all).
/// Throws cfx::Error if the rows do not have width L + K + 1, a class is out of range or G's
/// images do not fit F.
InterventionSamples sample_code_interventions(Classifier& F, const std::vector<int64_t>& outcome,
                                              Cvae& G, AttributeClassifier& D,
                                              const torch::Tensor& latents, int64_t batch_size,
                                              const std::string& only,
                                              const ProgressFn& progress = {});

}  // namespace cfx
