#include "cfx/eval/metrics.h"

namespace cfx {

CounterfactualScores score_counterfactuals(Classifier& F, const torch::Tensor& x,
                                           const torch::Tensor& xcf, const torch::Tensor& targets) {
  CounterfactualScores s;
  auto p0 = F.predict_proba(x);
  auto p1 = F.predict_proba(xcf);
  auto t = targets.cpu().to(torch::kLong);
  s.original_class = p0.argmax(1);
  s.original_prob = p0.gather(1, s.original_class.unsqueeze(1)).squeeze(1);
  s.cf_class = p1.argmax(1);
  s.target_prob = p1.gather(1, t.unsqueeze(1)).squeeze(1);
  s.valid = s.cf_class.eq(t);
  auto d = (xcf.cpu() - x.cpu()).to(torch::kFloat32);
  s.l1 = d.abs().flatten(1).mean(1);
  s.l2 = d.pow(2).flatten(1).mean(1);
  s.l0 = (std::get<0>(d.abs().max(1)) > 0.05).to(torch::kFloat32).flatten(1).mean(1);
  return s;
}

SaliencyScores score_saliency(Classifier& F, const torch::Tensor& x, const torch::Tensor& saliency,
                              const torch::Tensor& infilled, const torch::Tensor& targets) {
  SaliencyScores s;
  auto t = targets.cpu().to(torch::kLong).unsqueeze(1);
  auto p0 = F.predict_proba(x);
  s.original_class = p0.argmax(1);
  s.original_prob = p0.gather(1, s.original_class.unsqueeze(1)).squeeze(1);
  s.class_prob = p0.gather(1, t).squeeze(1);
  if (infilled.defined()) s.infill_prob = F.predict_proba(infilled).gather(1, t).squeeze(1);
  s.area = saliency.cpu().to(torch::kFloat32).flatten(1).mean(1);
  return s;
}

torch::Tensor runner_up_classes(Classifier& F, const torch::Tensor& x) {
  auto p = F.predict_proba(x);
  return std::get<1>(p.topk(2, 1)).select(1, 1).contiguous();
}

}  // namespace cfx
