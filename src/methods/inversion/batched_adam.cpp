#include "cfx/methods/inversion/batched_adam.h"

#include "cfx/core/error.h"

namespace cfx {

BatchedAdam::BatchedAdam(std::vector<torch::Tensor> params, BatchedAdamOptions options)
    : params_(std::move(params)), options_(options) {
  CFX_ASSERT(!params_.empty());
  const int64_t n = params_.front().size(0);
  for (auto& p : params_) {
    CFX_ASSERT(p.size(0) == n);
    p = p.detach();
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
  t_ = torch::zeros({n}, params_.front().options().dtype(torch::kFloat32));
}

std::vector<torch::Tensor> BatchedAdam::gather(const torch::Tensor& idx) const {
  std::vector<torch::Tensor> out;
  out.reserve(params_.size());
  for (const auto& p : params_) out.push_back(p.index_select(0, idx).set_requires_grad(true));
  return out;
}

void BatchedAdam::step(const torch::Tensor& all_idx, const std::vector<torch::Tensor>& gathered,
                       const torch::Tensor& keep) {
  // `keep` on the CPU keeps nonzero() off the GPU, where it waits for every queued kernel.
  step_rows(all_idx, gathered,
            keep.defined() ? keep.nonzero().flatten().to(all_idx.device()) : torch::Tensor());
}

void BatchedAdam::step_rows(const torch::Tensor& all_idx,
                            const std::vector<torch::Tensor>& gathered, const torch::Tensor& rows) {
  torch::NoGradGuard no_grad;
  CFX_ASSERT(gathered.size() == params_.size());
  const bool keep = rows.defined();
  auto idx = keep ? all_idx.index_select(0, rows) : all_idx;
  if (idx.numel() == 0) return;
  auto t = t_.index_select(0, idx) + 1;
  t_.index_copy_(0, idx, t);
  const auto& o = options_;
  for (size_t k = 0; k < params_.size(); ++k) {
    auto g = gathered[k].grad();
    if (!g.defined()) continue;
    auto p = gathered[k].detach();
    if (keep) {
      g = g.index_select(0, rows);
      p = p.index_select(0, rows);
    }
    std::vector<int64_t> shape(params_[k].dim(), 1);
    shape[0] = idx.size(0);
    auto bc1 = (1 - torch::pow(o.beta1, t)).view(shape);
    auto bc2 = (1 - torch::pow(o.beta2, t)).view(shape);
    auto m = m_[k].index_select(0, idx).mul_(o.beta1).add_(g, 1 - o.beta1);
    auto v = v_[k].index_select(0, idx).mul_(o.beta2).addcmul_(g, g, 1 - o.beta2);
    m_[k].index_copy_(0, idx, m);
    v_[k].index_copy_(0, idx, v);
    auto upd = (m / bc1) / ((v / bc2).sqrt() + o.eps) * o.lr;
    params_[k].index_copy_(0, idx, p - upd);
  }
}

}  // namespace cfx
