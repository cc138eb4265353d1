// Saliency metrics (METHODS.md §5). Maps are [N, 1, H, W], higher = more important to the
// decision for class c = targets[i]; every result is per item, on CPU.
#pragma once

#include <torch/types.h>

#include "cfx/models/classifier.h"

namespace cfx {

struct DeletionInsertion {
  torch::Tensor deletion;       // [N, K+1] p_c as the most salient pixels are blurred away
  torch::Tensor insertion;      // [N, K+1] p_c as they are restored onto the blurred image
  torch::Tensor deletion_auc;   // [N] trapezoidal mean of `deletion` (lower = better)
  torch::Tensor insertion_auc;  // [N] ... of `insertion` (higher = better)
};

/// Deletion and insertion curves (Petsiuk et al.): pixels ranked by saliency (ties in raster
/// order), K steps of HW/K pixels each, the canvas a Gaussian blur (σ = blur_sigma) of x.
DeletionInsertion deletion_insertion(Classifier& F, const torch::Tensor& x,
                                     const torch::Tensor& saliency, const torch::Tensor& targets,
                                     int64_t steps = 28, double blur_sigma = 5.0);

/// Pointing game: 1 if the map's maximum lies on the object mask ([N, 1, H, W] in {0, 1}),
/// else 0. A plateau of maxima points at its pixel nearest to the plateau's centroid. [N] float.
torch::Tensor pointing_game(const torch::Tensor& saliency, const torch::Tensor& masks);

/// Localisation IoU: the top-|mask| pixels of the map (as many as the object covers) against
/// the object mask. [N] float in [0, 1].
torch::Tensor localisation_iou(const torch::Tensor& saliency, const torch::Tensor& masks);

/// Weakly supervised localisation as FIDO (after Fong & Vedaldi) scores it: the map thresholded
/// at its mean (pixels ≥ the mean), its largest 4-connected component (ties: first in raster
/// order), that component's bounding box against the bounding box of the object mask. [N] float
/// box IoU in [0, 1] (0 when the mask is empty); an item counts as a localisation error when
/// its box IoU is below 0.5 (localisation_errors()). Unlike localisation_iou(), the map's own
/// area decides the box: a compact map that covers the object scores well, a diffuse one not.
torch::Tensor localisation_box_iou(const torch::Tensor& saliency, const torch::Tensor& masks);

/// 1 where box_iou < 0.5 (a localisation error), else 0. [N] float.
torch::Tensor localisation_errors(const torch::Tensor& box_iou);

/// Dabkowski & Gal's saliency metric: log(max(a, 0.05)) − log p_c(crop), where the crop is the
/// bounding box of the pixels at ≥ half the map's maximum, resized to the input size, and a
/// its area fraction. Lower = better (small boxes that still carry the class). [N] float.
torch::Tensor saliency_metric(Classifier& F, const torch::Tensor& x, const torch::Tensor& saliency,
                              const torch::Tensor& targets);

/// Spearman rank correlation between maps a and b per item ([N] float in [-1, 1]): the
/// weight-randomisation sanity check compares a model's maps with a randomised model's.
torch::Tensor map_rank_correlation(const torch::Tensor& a, const torch::Tensor& b);

/// Replaces every weight of F (Classifier::weights) by Gaussian noise of the same standard
/// deviation (cascading randomisation of all layers, Adebayo et al.), seeded. Throws
/// cfx::Error if F exposes no weights.
void randomize_weights(Classifier& F, uint64_t seed);

}  // namespace cfx
