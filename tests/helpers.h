// Small fixtures shared by tests: a toy dataset whose label is known from the pixels, and
// a classifier trained on it in well under a second.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cfx/data/dataset.h"
#include "cfx/methods/method.h"
#include "cfx/models/checkpoint.h"

namespace cfx::testing {

/// Grey 12x12 noise images; class 0 if the left half is brighter than the right, else 1
/// (class 2 if `three_classes` and the top half dominates both).
Dataset toy_dataset(int64_t n, uint64_t seed, bool three_classes = false);

/// A `cnn` (or `arch`) with head `head` ("linear", "duq", "loss") trained on toy_dataset;
/// test accuracy is > 90%. Under ctest it is loaded from the fixture files in the folder
/// set_fixture_dir() names (weights and the generator state after training), else trained
/// here.
std::shared_ptr<NativeClassifier> toy_classifier(const std::string& arch = "cnn",
                                                 const std::string& head = "linear");

/// The toy classifiers the fixture test writes (architecture, head).
inline const std::vector<std::pair<std::string, std::string>> kToyFixtures = {
    {"cnn", "linear"}, {"mlp", "linear"}, {"resnet", "linear"}, {"cnn", "duq"}, {"cnn", "loss"}};

/// Where toy_classifier() finds the fixtures (tests/main.cpp's --cfx-fixtures=DIR).
void set_fixture_dir(const std::string& dir);
const std::string& fixture_dir();

/// toy_classifier() without the per-process cache: trained here, or loaded from the files
/// write_toy_fixtures() wrote into `fixture_dir`.
std::shared_ptr<NativeClassifier> make_toy_classifier(const std::string& arch,
                                                      const std::string& head,
                                                      const std::string& fixture_dir = "");

/// Trains each of kToyFixtures and writes it into `dir` (ctest's toy_fixtures test, before
/// the tests that read them).
void write_toy_fixtures(const std::string& dir);

/// n toy_dataset images (data seed 21) for the toy `cnn`, each targeting the class it does
/// not predict, with the run seed `seed`.
Request toy_flip_request(int64_t n, uint64_t seed);

/// A fresh empty temp folder for one test.
std::string temp_dir(const std::string& name);

}  // namespace cfx::testing
