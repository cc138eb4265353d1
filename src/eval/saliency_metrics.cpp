#include "cfx/eval/saliency_metrics.h"

#include <array>
#include <cmath>
#include <vector>

#include "cfx/core/error.h"
#include "cfx/core/tensor.h"
#include "cfx/core/seed.h"
#include "cfx/eval/perturbation_curve.h"
#include "cfx/methods/saliency/infill.h"

namespace cfx {

namespace {

// p_c for many images in chunks: x [M, C, H, W], c [M].
torch::Tensor class_probs(Classifier& F, const torch::Tensor& x, const torch::Tensor& c) {
  auto p = F.predict_proba(x.to(F.device()));
  return p.cpu().gather(1, c.cpu().to(torch::kLong).unsqueeze(1)).squeeze(1);
}

void check_maps(const torch::Tensor& saliency, const torch::Tensor& other, const char* what) {
  CFX_CHECK(saliency.dim() == 4 && saliency.size(1) == 1,
            "saliency maps must be [N, 1, H, W], got ", saliency.sizes());
  CFX_CHECK(other.size(0) == saliency.size(0) && other.size(2) == saliency.size(2) &&
                other.size(3) == saliency.size(3),
            what, " ", other.sizes(), " do not match the saliency maps ", saliency.sizes());
}

// Bounding box [y0, x0, y1, x1) of a boolean image; empty (all zero) when nothing is set.
using Box = std::array<int64_t, 4>;

double box_iou(const Box& a, const Box& b) {
  auto area = [](const Box& r) { return (r[2] - r[0]) * (r[3] - r[1]); };
  const int64_t h = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  const int64_t w = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  const int64_t inter = h > 0 && w > 0 ? h * w : 0;
  const int64_t uni = area(a) + area(b) - inter;
  return uni > 0 ? static_cast<double>(inter) / static_cast<double>(uni) : 0.0;
}

// The bounding box of the largest 4-connected component of `on` [H, W] (row-major bytes).
Box largest_component_box(const std::vector<uint8_t>& on, int64_t H, int64_t W) {
  std::vector<int32_t> label(on.size(), -1);
  std::vector<int64_t> stack;
  Box best{0, 0, 0, 0};
  int64_t best_size = 0;
  for (int64_t start = 0; start < H * W; ++start) {
    if (!on[start] || label[start] >= 0) continue;
    Box box{start / W, start % W, start / W + 1, start % W + 1};
    int64_t size = 0;
    stack.assign(1, start);
    label[start] = 1;
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      ++size;
      const int64_t y = p / W, x = p % W;
      box = {std::min(box[0], y), std::min(box[1], x), std::max(box[2], y + 1),
             std::max(box[3], x + 1)};
      const int64_t nb[4][2] = {{y - 1, x}, {y + 1, x}, {y, x - 1}, {y, x + 1}};
      for (const auto& q : nb) {
        if (q[0] < 0 || q[0] >= H || q[1] < 0 || q[1] >= W) continue;
        const int64_t k = q[0] * W + q[1];
        if (on[k] && label[k] < 0) {
          label[k] = 1;
          stack.push_back(k);
        }
      }
    }
    if (size > best_size) best_size = size, best = box;
  }
  return best;
}

Box mask_box(const torch::Tensor& m) {
  auto rows = m.any(1).nonzero().flatten(), cols = m.any(0).nonzero().flatten();
  if (rows.numel() == 0) return {0, 0, 0, 0};
  return {rows.min().item<int64_t>(), cols.min().item<int64_t>(), rows.max().item<int64_t>() + 1,
          cols.max().item<int64_t>() + 1};
}

}  // namespace

torch::Tensor localisation_box_iou(const torch::Tensor& saliency, const torch::Tensor& masks) {
  check_maps(saliency, masks, "masks");
  auto s = saliency.cpu().to(torch::kFloat32);
  auto m = masks.cpu().to(torch::kFloat32).ge(0.5);
  const int64_t n = s.size(0), H = s.size(2), W = s.size(3);
  auto out = torch::zeros({n});
  for (int64_t i = 0; i < n; ++i) {
    auto si = s[i][0];
    auto on = si.ge(si.mean()).to(torch::kUInt8).contiguous();
    std::vector<uint8_t> bytes(on.data_ptr<uint8_t>(), on.data_ptr<uint8_t>() + H * W);
    out[i] = box_iou(largest_component_box(bytes, H, W), mask_box(m[i][0]));
  }
  return out;
}

torch::Tensor localisation_errors(const torch::Tensor& box_iou) {
  return box_iou.lt(0.5).to(torch::kFloat32);
}

DeletionInsertion deletion_insertion(Classifier& F, const torch::Tensor& x,
                                     const torch::Tensor& saliency, const torch::Tensor& targets,
                                     int64_t steps, double blur_sigma) {
  check_maps(saliency, x, "images");
  CFX_CHECK(steps >= 1, "invalid deletion/insertion steps: ", steps);
  torch::NoGradGuard ng;
  auto xc = x.cpu().to(torch::kFloat32);
  auto canvas = gaussian_blur(xc, blur_sigma);
  auto ranks = pixel_ranks(saliency);
  auto t = targets.cpu().to(torch::kLong).view({-1, 1, 1}).expand({-1, steps + 1, 1});
  DeletionInsertion r;
  r.deletion = paste_curve(F, xc, canvas, ranks, steps).gather(2, t).squeeze(2);
  r.insertion = paste_curve(F, canvas, xc, ranks, steps).gather(2, t).squeeze(2);
  r.deletion_auc = curve_auc(r.deletion);
  r.insertion_auc = curve_auc(r.insertion);
  return r;
}

torch::Tensor pointing_game(const torch::Tensor& saliency, const torch::Tensor& masks) {
  check_maps(saliency, masks, "masks");
  // Optimised masks saturate, so the maximum is often a plateau; the point is the plateau
  // pixel nearest to the plateau's centroid, not whichever comes first in raster order.
  auto s = saliency.cpu().to(torch::kFloat32);
  auto m = masks.cpu().to(torch::kFloat32);
  const int64_t n = s.size(0), H = s.size(2), W = s.size(3);
  auto ys = torch::arange(H, torch::kFloat32).view({H, 1}).expand({H, W});
  auto xs = torch::arange(W, torch::kFloat32).view({1, W}).expand({H, W});
  auto hit = torch::zeros({n});
  for (int64_t i = 0; i < n; ++i) {
    auto si = s[i][0];
    auto top = si.ge(si.max() - 1e-6).to(torch::kFloat32);
    auto cy = (ys * top).sum() / top.sum(), cx = (xs * top).sum() / top.sum();
    auto d = (ys - cy).pow(2) + (xs - cx).pow(2) + (1 - top) * 1e9;
    int64_t at = d.flatten().argmin().item<int64_t>();
    hit[i] = m[i][0].flatten()[at].ge(0.5).item<bool>() ? 1.f : 0.f;
  }
  return hit;
}

torch::Tensor localisation_iou(const torch::Tensor& saliency, const torch::Tensor& masks) {
  check_maps(saliency, masks, "masks");
  auto m = masks.cpu().to(torch::kFloat32).flatten(1).ge(0.5);
  auto area = m.sum(1, true);
  auto chosen = pixel_ranks(saliency) < area;
  auto inter = (chosen & m).sum(1).to(torch::kFloat32);
  auto uni = (chosen | m).sum(1).to(torch::kFloat32);
  return torch::where(uni > 0, inter / uni.clamp_min(1), torch::zeros_like(inter));
}

torch::Tensor saliency_metric(Classifier& F, const torch::Tensor& x, const torch::Tensor& saliency,
                              const torch::Tensor& targets) {
  check_maps(saliency, x, "images");
  torch::NoGradGuard ng;
  const int64_t n = x.size(0), H = x.size(2), W = x.size(3);
  auto xc = x.cpu().to(torch::kFloat32);
  auto s = saliency.cpu().to(torch::kFloat32);
  std::vector<torch::Tensor> crops;
  std::vector<double> areas;
  for (int64_t i = 0; i < n; ++i) {
    auto si = s[i][0];
    double top = si.max().item<double>();
    auto on = top > 0 ? si.ge(0.5 * top) : torch::ones_like(si, torch::kBool);
    auto rows = on.any(1).nonzero().flatten(), cols = on.any(0).nonzero().flatten();
    int64_t y0 = rows.min().item<int64_t>(), y1 = rows.max().item<int64_t>() + 1;
    int64_t x0 = cols.min().item<int64_t>(), x1 = cols.max().item<int64_t>() + 1;
    areas.push_back(static_cast<double>((y1 - y0) * (x1 - x0)) / (H * W));
    auto crop = xc[i].slice(1, y0, y1).slice(2, x0, x1).unsqueeze(0);
    crops.push_back(torch::upsample_bilinear2d(crop, {H, W}, false));
  }
  auto p = class_probs(F, torch::cat(crops), targets).to(torch::kDouble);
  auto a = torch::tensor(areas, torch::kDouble).clamp_min(0.05);
  return (a.log() - p.clamp_min(1e-12).log()).to(torch::kFloat32);
}

torch::Tensor map_rank_correlation(const torch::Tensor& a, const torch::Tensor& b) {
  CFX_CHECK(a.sizes() == b.sizes(), "rank correlation of maps of different shapes: ", a.sizes(),
            " and ", b.sizes());
  // Tied values share their average rank (Spearman's definition): FIDO's maps saturate, and
  // ranking ties in raster order would correlate any two flat maps perfectly.
  auto avg_ranks = [](const torch::Tensor& m) {
    auto s = m.cpu().to(torch::kDouble).flatten(1).contiguous();
    auto sorted = torch::sort(s, /*stable=*/true, /*dim=*/1);
    auto v = std::get<0>(sorted).contiguous(), order = std::get<1>(sorted).contiguous();
    auto ranks = torch::empty_like(s);
    auto va = v.accessor<double, 2>();
    auto oa = order.accessor<int64_t, 2>();
    auto ra = ranks.accessor<double, 2>();
    const int64_t n = s.size(0), k = s.size(1);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k;) {
        int64_t e = j + 1;
        while (e < k && va[i][e] == va[i][j]) ++e;
        for (int64_t q = j; q < e; ++q) ra[i][oa[i][q]] = 0.5 * (j + e - 1);
        j = e;
      }
    return ranks;
  };
  auto ra = avg_ranks(a), rb = avg_ranks(b);
  ra = ra - ra.mean(1, true);
  rb = rb - rb.mean(1, true);
  auto den = (ra.pow(2).sum(1) * rb.pow(2).sum(1)).sqrt();
  return torch::where(den > 0, (ra * rb).sum(1) / den.clamp_min(1e-12), torch::zeros_like(den))
      .to(torch::kFloat32);
}

void randomize_weights(Classifier& F, uint64_t seed) {
  auto w = F.weights();
  CFX_CHECK(!w.empty(), "this classifier does not expose its weights, so the randomisation ",
            "sanity check cannot run on it");
  seed_all(seed);
  torch::NoGradGuard ng;
  for (auto& p : w) {
    double sd = p.numel() > 1 ? p.std().item<double>() : 0.0;
    if (!(sd > 0)) sd = 0.1;
    p.copy_(torch::randn_like(p) * sd);
  }
}

}  // namespace cfx
