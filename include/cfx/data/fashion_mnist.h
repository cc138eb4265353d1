// Fashion-MNIST (Zalando): 28x28 grey clothing images in 10 classes, 60000 train / 10000 test,
// read from the IDX files of the Debian package dataset-fashion-mnist.
#pragma once

#include <string>
#include <vector>

#include "cfx/data/dataset.h"

namespace cfx {

/// The folder holding the IDX files: $CFX_FASHION_MNIST_DIR if set, else
/// /usr/share/datasets/fashion-mnist. Does not check that it exists.
std::string fashion_mnist_dir();

/// Garment silhouettes measured like digits (morphometric_attribute_names(): area, thickness,
/// slant, width, height), with every pixel above 0.1 counted as the garment, since many garments
/// are dark grey. images: [N, 1, H, W] in [0, 1]; returns [N, 5].
torch::Tensor fashion_mnist_attributes(const torch::Tensor& images);

/// "T-shirt/top", "Trouser", ..., "Ankle boot" (label order).
std::vector<std::string> fashion_mnist_classes();

/// Loads split "train" or "test" from `dir` (default: fashion_mnist_dir()), accepting
/// <prefix>-images-idx3-ubyte(.gz) and <prefix>-labels-idx1-ubyte(.gz) with prefix "train" or
/// "t10k". Images [N, 1, 28, 28] in [0, 1]; sources "fashion-mnist:<split>:<index>". No
/// attributes: load_dataset adds fashion_mnist_attributes() after --limit, which keeps loads
/// of a few items cheap (measuring all 60000 images takes seconds).
/// Throws cfx::Error with installation advice when the files are missing, or naming the file
/// when one is corrupt or images and labels disagree.
Dataset load_fashion_mnist(const std::string& split, const std::string& dir = "");

}  // namespace cfx
