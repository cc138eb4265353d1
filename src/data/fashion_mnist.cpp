#include "cfx/data/fashion_mnist.h"

#include <cstdlib>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/idx.h"
#include "cfx/data/morphometry.h"

namespace cfx {

namespace {

constexpr int64_t kNumClasses = 10;

// Prefers the compressed file the Debian package ships, but accepts a gunzipped copy.
std::string find_file(const std::string& dir, const std::string& stem) {
  for (const char* ext : {".gz", ""}) {
    std::string p = dir + "/" + stem + ext;
    if (is_file(p)) return p;
  }
  fail("Fashion-MNIST file ", dir, "/", stem,
       ".gz not found. Install it with "
       "`sudo apt-get install dataset-fashion-mnist` or run scripts/install-deps, or set "
       "CFX_FASHION_MNIST_DIR to a folder holding train-images-idx3-ubyte.gz, "
       "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz");
}

}  // namespace

std::string fashion_mnist_dir() {
  const char* env = std::getenv("CFX_FASHION_MNIST_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

std::vector<std::string> fashion_mnist_classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

torch::Tensor fashion_mnist_attributes(const torch::Tensor& images) {
  return morphometric_attributes(images, 0.1f);
}

Dataset load_fashion_mnist(const std::string& split, const std::string& dir) {
  CFX_CHECK(split == "train" || split == "test", "unknown split '", split,
            "' for fashion-mnist; use train or test");
  const std::string root = dir.empty() ? fashion_mnist_dir() : dir;
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string image_path = find_file(root, prefix + "-images-idx3-ubyte");
  const std::string label_path = find_file(root, prefix + "-labels-idx1-ubyte");

  Dataset ds;
  ds.name = "fashion-mnist";
  ds.split = split;
  ds.images = read_idx_images(image_path);
  ds.labels = read_idx_labels(label_path);
  CFX_CHECK(ds.images.size(2) == 28 && ds.images.size(3) == 28, "Fashion-MNIST file ", image_path,
            " holds ", ds.images.size(2), "x", ds.images.size(3),
            " images, expected 28x28; reinstall dataset-fashion-mnist");
  CFX_CHECK(ds.images.size(0) == ds.labels.size(0), "Fashion-MNIST files disagree: ", image_path,
            " holds ", ds.images.size(0), " images but ", label_path, " holds ", ds.labels.size(0),
            " labels; reinstall dataset-fashion-mnist");
  const int64_t max_label = ds.labels.max().item<int64_t>();
  CFX_CHECK(max_label < kNumClasses, "Fashion-MNIST file ", label_path, " holds label ", max_label,
            ", expected 0 to 9; reinstall dataset-fashion-mnist");
  ds.class_names = fashion_mnist_classes();
  ds.sources.reserve(static_cast<size_t>(ds.size()));
  for (int64_t i = 0; i < ds.size(); ++i) {
    ds.sources.push_back("fashion-mnist:" + split + ":" + std::to_string(i));
  }
  return ds;
}

}  // namespace cfx
