#include "cfx/eval/attribute_change.h"

#include "cfx/core/error.h"

namespace cfx {

AttributeChange attribute_change(AttributeClassifier& A, const torch::Tensor& x,
                                 const torch::Tensor& xcf) {
  CFX_CHECK(x.sizes() == xcf.sizes(), "MNAC: images ", x.sizes(), " and counterfactuals ",
            xcf.sizes(), " differ in shape");
  A.net().check_input(x);
  auto flipped = ((A.probs(x) > 0.5) != (A.probs(xcf) > 0.5)).cpu();  // [N, K]
  // One factor per unit (an exclusive group or a lone attribute) with any flip in it.
  auto factors = torch::zeros({flipped.size(0)}, torch::kFloat);
  for (const auto& unit : A.units())
    factors += flipped.index_select(1, torch::tensor(unit)).any(1).to(torch::kFloat);
  return {flipped.sum(1).to(torch::kFloat), factors};
}

}  // namespace cfx
