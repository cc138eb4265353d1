// Adam over per-item parameters: every tensor has the item index as its first dimension, and
// each step updates only the items given. Finished items leave the computation entirely (no
// forward pass, no momentum drift), and an item's trajectory does not depend on which other
// items share its batch, because Adam is elementwise and each item keeps its own step count.
#pragma once

#include <torch/types.h>

#include <vector>

namespace cfx {

struct BatchedAdamOptions {
  double lr = 0.01;      // learning rate
  double beta1 = 0.9;    // first-moment decay
  double beta2 = 0.999;  // second-moment decay
  double eps = 1e-8;     // denominator floor
};

class BatchedAdam {
 public:
  /// params: tensors [N, ...] with the same N; taken by reference (updated in place).
  BatchedAdam(std::vector<torch::Tensor> params, BatchedAdamOptions options);

  /// Leaf copies of the rows `idx` ([n] int64, on the params' device) of every parameter,
  /// with requires_grad set: compute a loss from them, call backward(), then step().
  std::vector<torch::Tensor> gather(const torch::Tensor& idx) const;

  /// One Adam step for rows `idx` using the gradients of `gathered` (from gather(idx)).
  /// If `keep` ([n] bool, on any device; the CPU spares a GPU a wait) is given, only the
  /// rows where it is set are updated.
  void step(const torch::Tensor& idx, const std::vector<torch::Tensor>& gathered,
            const torch::Tensor& keep = {});

  /// step() with the kept rows given as positions ([k] int64, on the params' device) into
  /// `idx`; undefined `rows`: all of them.
  void step_rows(const torch::Tensor& idx, const std::vector<torch::Tensor>& gathered,
                 const torch::Tensor& rows);

  std::vector<torch::Tensor>& params() { return params_; }
  void set_lr(double lr) { options_.lr = lr; }

 private:
  std::vector<torch::Tensor> params_, m_, v_;
  torch::Tensor t_;  // [N] steps taken per item (float, on the params' device)
  BatchedAdamOptions options_;
};

}  // namespace cfx
