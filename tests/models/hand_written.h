// A base for hand-written test classifiers whose rule is a formula: everything but logits()
// is the trivial CPU, parameter-free, layer-free answer.
#pragma once

#include <string>
#include <vector>

#include "cfx/models/classifier.h"

namespace cfx::testing {

class HandWritten : public Classifier {
 public:
  Capture capture(const torch::Tensor& x, const std::vector<std::string>&, bool) override {
    Capture c;
    c.logits = logits(x);
    return c;
  }
  std::vector<std::string> feature_layers() const override { return {}; }
  std::vector<BNLayer> bn_layers() const override { return {}; }
  int64_t num_parameters() const override { return 0; }
  void to(torch::Device) override {}
  torch::Device device() const override { return torch::kCPU; }
};

}  // namespace cfx::testing
