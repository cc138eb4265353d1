// Small fixtures shared by tests: a toy dataset whose label is known from the pixels, and
// a classifier trained on it in well under a second.
#pragma once

#include <memory>

#include "cfx/data/dataset.h"
#include "cfx/models/checkpoint.h"

namespace cfx::testing {

/// Grey 12x12 noise images; class 0 if the left half is brighter than the right, else 1
/// (class 2 if `three_classes` and the top half dominates both).
Dataset toy_dataset(int64_t n, uint64_t seed, bool three_classes = false);

/// A `cnn` (or `arch`) with head `head` ("linear", "duq", "loss") trained on toy_dataset;
/// test accuracy is > 90%.
std::shared_ptr<NativeClassifier> toy_classifier(const std::string& arch = "cnn",
                                                 const std::string& head = "linear");

/// A fresh empty temp folder for one test.
std::string temp_dir(const std::string& name);

}  // namespace cfx::testing
