#include "cfx/eval/perturbation_curve.h"

#include "cfx/core/error.h"

namespace cfx {

torch::Tensor pixel_ranks(const torch::Tensor& scores) {
  auto s = scores.cpu().to(torch::kFloat32).flatten(1);
  auto order = std::get<1>(torch::sort(s, /*stable=*/true, /*dim=*/1, /*descending=*/true));
  auto ranks = torch::empty_like(order);
  ranks.scatter_(1, order, torch::arange(s.size(1), torch::kLong).expand_as(order).contiguous());
  return ranks;  // [N, HW] int64
}

torch::Tensor paste_curve(Classifier& F, const torch::Tensor& canvas, const torch::Tensor& source,
                          const torch::Tensor& ranks, int64_t steps) {
  CFX_CHECK(canvas.dim() == 4 && canvas.sizes() == source.sizes(), "paste_curve: canvas ",
            canvas.sizes(), " and source ", source.sizes(), " must be equal [N, C, H, W]");
  CFX_CHECK(steps >= 1, "invalid number of curve steps: ", steps);
  const int64_t n = canvas.size(0), C = canvas.size(1), H = canvas.size(2), W = canvas.size(3);
  const int64_t hw = H * W;
  CFX_CHECK(ranks.dim() == 2 && ranks.size(0) == n && ranks.size(1) == hw, "paste_curve: ranks ",
            ranks.sizes(), " do not match the images ", canvas.sizes());
  torch::NoGradGuard ng;
  auto from = canvas.cpu().to(torch::kFloat32), to = source.cpu().to(torch::kFloat32);
  auto r = ranks.cpu().view({n, 1, H, W});
  std::vector<torch::Tensor> path;
  for (int64_t k = 0; k <= steps; ++k) {
    int64_t count = (hw * k + steps / 2) / steps;
    auto top = (r < count).to(torch::kFloat32).expand({n, C, H, W});
    path.push_back(from * (1 - top) + to * top);
  }
  // Items × steps in one list, scored in predict_proba's chunks.
  auto p = F.predict_proba(torch::cat(path).to(F.device())).cpu();
  return p.view({steps + 1, n, p.size(1)}).transpose(0, 1).contiguous();
}

torch::Tensor curve_auc(const torch::Tensor& c) {
  const int64_t k = c.size(1) - 1;
  CFX_CHECK(c.dim() == 2 && k >= 1, "curve_auc: need curves [N, K+1] with K >= 1, got ", c.sizes());
  return (c.sum(1) - (c.select(1, 0) + c.select(1, k)) / 2) / k;
}

CoutScores cout_scores(Classifier& F, const torch::Tensor& x, const torch::Tensor& xcf,
                       const torch::Tensor& targets, int64_t steps) {
  CFX_CHECK(x.dim() == 4 && x.sizes() == xcf.sizes(), "COUT: queries ", x.sizes(),
            " and counterfactuals ", xcf.sizes(), " must be equal [N, C, H, W]");
  CFX_CHECK(targets.numel() == x.size(0), "COUT: need one target per item");
  auto xc = x.cpu().to(torch::kFloat32), cf = xcf.cpu().to(torch::kFloat32);
  auto ranks = pixel_ranks((cf - xc).abs().sum(1));
  auto probs = paste_curve(F, xc, cf, ranks, steps);  // [N, K+1, classes]
  auto t = targets.cpu().to(torch::kLong);
  auto s = probs.select(1, 0).argmax(1);  // the source class: argmax F(x)
  auto pick = [&](const torch::Tensor& c) {
    return probs.gather(2, c.view({-1, 1, 1}).expand({-1, steps + 1, 1})).squeeze(2);
  };
  CoutScores out;
  out.target_curve = pick(t);
  out.source_curve = pick(s);
  out.cout = curve_auc(out.target_curve) - curve_auc(out.source_curve);
  return out;
}

}  // namespace cfx
