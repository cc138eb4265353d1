// Results that do not depend on the batch an item is in.
//
// Why: LibTorch (1.13 and 2.x alike) convolves a CPU batch of one with a small kernel through
// its native im2col path and any larger batch through oneDNN. The two round differently, so
// an item explained alone came out a few ulps away from the same item explained among others,
// and in a batched search the last item still running switched backends mid-way; a decoded
// argmax near a tie (a word of a text counterfactual) then flipped. oneDNN's result for one
// row does not depend on the other rows, so every model entry point runs a CPU batch of one
// as two identical rows and keeps the first (docs/outputs.md, "Reproducibility").
#pragma once

#include <torch/types.h>

namespace cfx {

/// Whether as_two_rows(x) doubles x: a CPU tensor with a batch dimension of size 1.
bool is_cpu_batch_of_one(const torch::Tensor& x);

/// x [1, ...] on the CPU → [2, ...]: x, then a detached copy (gradients reach x once, through
/// row 0). Any other x (more rows, another device, no batch dimension) is returned as it is.
torch::Tensor as_two_rows(const torch::Tensor& x);

/// Undoes as_two_rows() on an output: y [2, ...] computed from the doubled x [1, ...] → row 0,
/// [1, ...]. Any other y is returned as it is, so a model that returns the wrong number of
/// rows still meets the caller's shape check.
torch::Tensor from_two_rows(const torch::Tensor& y, const torch::Tensor& x);

/// sigmoid of each row of x [N, ...] on its own, on the CPU; elsewhere torch::sigmoid(x).
/// Why: LibTorch's CPU element-wise loops run SIMD code over the first multiple of two vector
/// widths (16 floats with AVX2) and scalar code over the rest, and the two sigmoids differ in
/// the last bit: in one [5, 4] tensor rows 0-3 took the SIMD path and row 4 the scalar one,
/// where each row alone is all scalar. Row by row, a row's path does not depend on its place
/// in the batch (BatchInvariance.TextModels*, on AVX2 CPUs).
torch::Tensor rowwise_sigmoid(const torch::Tensor& x);

}  // namespace cfx
