#include "cfx/eval/attribute_change.h"

#include "cfx/core/error.h"

namespace cfx {

AttributeChange attribute_change(AttributeClassifier& A, const torch::Tensor& x,
                                 const torch::Tensor& xcf) {
  CFX_CHECK(x.sizes() == xcf.sizes(), "MNAC: images ", x.sizes(), " and counterfactuals ",
            xcf.sizes(), " differ in shape");
  A.net().check_input(x);
  auto flipped = ((A.probs(x) > 0.5) != (A.probs(xcf) > 0.5)).cpu();  // [N, K]
  auto grouped = torch::zeros({A.size()}, torch::kBool);
  auto factors = torch::zeros({flipped.size(0)}, torch::kFloat);
  for (const auto& group : A.groups()) {
    std::vector<int64_t> members;
    for (const auto& name : group) members.push_back(A.index_of(name));
    auto idx = torch::tensor(members);
    grouped.index_fill_(0, idx, true);
    factors += flipped.index_select(1, idx).any(1).to(torch::kFloat);
  }
  factors +=
      flipped.index({torch::indexing::Slice(), grouped.logical_not()}).sum(1).to(torch::kFloat);
  return {flipped.sum(1).to(torch::kFloat), factors};
}

}  // namespace cfx
