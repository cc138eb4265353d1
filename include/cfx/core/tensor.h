// Small tensor helpers shared across layers.
#pragma once

#include <torch/types.h>

#include <utility>
#include <vector>

namespace cfx {

/// (x - mean) / std per channel of x [N, C, H, W]; mean/std hold 1 or C values, or are
/// empty (no change).
torch::Tensor normalize_channels(const torch::Tensor& x, const std::vector<double>& mean,
                                 const std::vector<double>& std);

/// Mean total variation per item of x [n, C, H, W] -> [n]: the mean absolute difference of
/// vertically plus that of horizontally neighbouring pixels. The inversion family's TV term,
/// and the cvae's sharpness measure.
torch::Tensor total_variation(const torch::Tensor& x);

/// Gradient difference per item of y_hat and y [n, C, H, W] -> [n] (Mathieu et al., 2016):
/// the sum over pixels of | |∂ŷ| − |∂y| | for vertical and horizontal neighbour differences.
/// 0 when the edges match in strength; a blurred ŷ of a sharp y pays for every softened
/// edge, where per-pixel BCE or L2 pay little (the cvae's `edges` term).
torch::Tensor edge_difference(const torch::Tensor& y_hat, const torch::Tensor& y);

/// Gaussian blur of x [N, C, H, W] with standard deviation `sigma` (> 0) pixels: a separable
/// kernel of radius ⌈3σ⌉ (at least 1) with replicate padding, which works for any image size
/// (reflection needs the pad below the side).
torch::Tensor gaussian_blur(const torch::Tensor& x, double sigma);

/// The same with one standard deviation per item, sigma [N] ≥ 0 on x's device (0 leaves the
/// item as it is): the classifier trainer's blur augmentation. Every item's kernel has the
/// radius of the largest σ; one grouped convolution per direction does the whole batch.
torch::Tensor gaussian_blur(const torch::Tensor& x, const torch::Tensor& sigma);

/// Logits l [N, C, s·H, s·W] of a drawing at s times the resolution → the logits [N, C, H, W]
/// of its box-averaged probabilities: σ(out) = mean of σ(l) over each s×s block, as a renderer
/// antialiases by averaging a finer drawing. Computed in log space (log p = logsumexp(log σ(l))
/// − log s², likewise log(1 − p) with −l), so saturated sub-pixels keep finite gradients and
/// BCE on the result stays stable. s = 1 returns l.
torch::Tensor box_average_logits(const torch::Tensor& l, int64_t s);

/// Per-item values of one optimisation step ([n] tensors on any device: float, or bool, as
/// 0/1) stacked as the rows of one [k, n] tensor of `rows[0]`'s dtype on the host: one copy
/// per step, because a GPU waits at each.
torch::Tensor to_host_rows(const std::vector<torch::Tensor>& rows);

/// The items of a step that go on ([n] bool `stop` false, on the CPU) as row indices on
/// `like`'s device, and a 0/1 mask of them shaped like `like` ([n]) to multiply a per-item
/// loss with before backward().
std::pair<torch::Tensor, torch::Tensor> rows_to_keep(const torch::Tensor& stop,
                                                     const torch::Tensor& like);

/// Tensor [K] (any dtype) to a std::vector<T>.
template <class T>
std::vector<T> to_vector(const torch::Tensor& t) {
  auto c = t.detach().cpu().contiguous().to(c10::CppTypeToScalarType<T>::value);
  return std::vector<T>(c.template data_ptr<T>(), c.template data_ptr<T>() + c.numel());
}

}  // namespace cfx
