#include "cfx/eval/attribute_change.h"

#include "cfx/core/error.h"

namespace cfx {

torch::Tensor attribute_flips(AttributeClassifier& A, const torch::Tensor& x,
                              const torch::Tensor& xcf) {
  CFX_CHECK(x.sizes() == xcf.sizes(), "MNAC: images ", x.sizes(), " and counterfactuals ",
            xcf.sizes(), " differ in shape");
  A.net().check_input(x);
  auto before = A.probs(x) > 0.5, after = A.probs(xcf) > 0.5;
  return (before != after).sum(1).to(torch::kFloat).cpu();
}

}  // namespace cfx
