// Fréchet Inception Distance (Heusel et al. 2017) with a cfx feature network: the Fréchet
// distance between Gaussians fitted to the features of two image sets (METHODS.md §5).
#pragma once

#include <torch/types.h>

#include <string>

#include "cfx/models/classifier.h"

namespace cfx {

/// Mean [D] and covariance [D, D] (unbiased, n − 1) of features [N, D], in double.
struct GaussianStats {
  torch::Tensor mean;
  torch::Tensor cov;
  int64_t n = 0;  // samples they were estimated from
};

/// Fits GaussianStats to features [N, D] (N ≥ 2). Throws cfx::Error otherwise.
GaussianStats gaussian_stats(const torch::Tensor& features);

/// The Gaussian of a mixture: components a, b, ... weighted by w (≥ 0, any sum > 0), matched in
/// mean and covariance. Used for a reference set whose class mix follows the targets.
GaussianStats mixture_stats(const std::vector<GaussianStats>& parts,
                            const std::vector<double>& weights);

/// ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½), in double. The matrix square roots come
/// from eigendecompositions of symmetric matrices (negative round-off eigenvalues clipped
/// to 0), so rank-deficient covariances (N ≤ D) are fine.
double frechet_distance(const GaussianStats& a, const GaussianStats& b);

/// The layer FID reads from F: the one before "logits" in F.feature_layers() (the penultimate
/// layer: "pool" of a resnet, "fc1" of a cnn), else the last one. Throws cfx::Error if F
/// exposes no feature layers.
std::string fid_feature_layer(Classifier& F);

/// Features [N, D] (double, CPU) of `images` at `layer`, flattened per image, in chunks.
torch::Tensor fid_features(Classifier& F, const torch::Tensor& images, const std::string& layer,
                           int64_t batch_size = 256);

}  // namespace cfx
