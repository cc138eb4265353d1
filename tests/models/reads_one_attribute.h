// A hand-written classifier whose rule is known exactly, for tests of attribute-level
// explanations (latent edits, global scores, AIP).
#pragma once

#include <memory>
#include <string>

#include "cfx/models/attributes.h"
#include "models/hand_written.h"

namespace cfx::testing {

// A hand-written classifier that reads one attribute: its two logits are 0 and the attribute
// classifier's logit of `attribute`, so its decision is "A sees the attribute".
class ReadsOneAttribute : public HandWritten {
 public:
  ReadsOneAttribute(std::shared_ptr<AttributeClassifier> A, const std::string& attribute)
      : A_(std::move(A)), k_(A_->index_of(attribute)) {
    info_ = A_->net().info();
    info_.class_names = {"not " + attribute, attribute};
  }
  torch::Tensor logits(const torch::Tensor& x) override {
    auto l = A_->logits(x).select(1, k_);
    return torch::stack({torch::zeros_like(l), l}, 1);
  }
  void to(torch::Device d) override { A_->to(d); }
  torch::Device device() const override { return A_->device(); }

 private:
  std::shared_ptr<AttributeClassifier> A_;
  int64_t k_;
};

}  // namespace cfx::testing
