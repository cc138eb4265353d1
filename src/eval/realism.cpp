#include "cfx/eval/realism.h"

#include "cfx/core/error.h"

namespace cfx {

std::pair<torch::Tensor, torch::Tensor> im1_im2(ClassAutoencoders& aes, const torch::Tensor& xcf,
                                                const torch::Tensor& target,
                                                const torch::Tensor& original) {
  torch::NoGradGuard ng;
  CFX_CHECK(xcf.dim() == 4 && target.numel() == xcf.size(0) && original.numel() == xcf.size(0),
            "im1_im2: need one target and one original class per image");
  auto tmax = std::max(target.max().item<int64_t>(), original.max().item<int64_t>());
  CFX_CHECK(tmax < aes.num_classes(), "the autoencoders know ", aes.num_classes(),
            " classes, but class ", tmax, " was asked for");
  constexpr double eps = 1e-8;
  auto x = xcf.to(torch::kFloat32);
  auto sq = [](const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).pow(2).flatten(1).sum(1);
  };
  auto rec_t = aes.reconstruct(x, target.to(torch::kLong));
  auto rec_o = aes.reconstruct(x, original.to(torch::kLong));
  auto rec_all = aes.reconstruct_all(x);
  auto im1 = sq(x, rec_t) / (sq(x, rec_o) + eps);
  auto im2 = sq(rec_t, rec_all) / (x.abs().flatten(1).sum(1) + eps);
  return {im1.cpu(), im2.cpu()};
}

}  // namespace cfx
