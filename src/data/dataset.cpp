#include "cfx/data/dataset.h"

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/fashion_mnist.h"
#include "cfx/data/image_folder.h"
#include "cfx/data/mnist.h"
#include "cfx/data/morphometry.h"
#include "cfx/data/shapes.h"

namespace cfx {

namespace {

torch::Tensor rows_at(const torch::Tensor& t, const torch::Tensor& index) {
  return t.defined() ? t.index_select(0, index) : t;
}

}  // namespace

Dataset Dataset::select(const torch::Tensor& index) const {
  CFX_CHECK(index.defined() && index.dim() == 1 && !index.is_floating_point() &&
                index.scalar_type() != torch::kBool,
            "Dataset::select needs a 1-D integer index, got ",
            index.defined() ? index.sizes() : c10::IntArrayRef{});
  auto idx = index.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t n = size();
  if (idx.numel() > 0) {
    const int64_t lo = idx.min().item<int64_t>(), hi = idx.max().item<int64_t>();
    CFX_CHECK(lo >= 0 && hi < n, "item index ", lo < 0 ? lo : hi, " is out of range for ", name,
              " (", split, ") with ", n, " items");
  }
  Dataset out;
  out.name = name;
  out.split = split;
  out.class_names = class_names;
  out.attribute_names = attribute_names;
  out.factor_names = factor_names;
  auto dev_idx = [&](const torch::Tensor& t) { return t.defined() ? idx.to(t.device()) : idx; };
  out.images = rows_at(images, dev_idx(images));
  out.labels = rows_at(labels, dev_idx(labels));
  out.attributes = rows_at(attributes, dev_idx(attributes));
  out.masks = rows_at(masks, dev_idx(masks));
  out.factors = rows_at(factors, dev_idx(factors));
  if (!sources.empty()) {
    CFX_ASSERT(static_cast<int64_t>(sources.size()) == n);
    const int64_t* p = idx.data_ptr<int64_t>();
    out.sources.reserve(static_cast<size_t>(idx.numel()));
    for (int64_t i = 0; i < idx.numel(); ++i) out.sources.push_back(sources[p[i]]);
  }
  return out;
}

Dataset Dataset::head(int64_t n) const {
  CFX_CHECK(n >= 0, "Dataset::head: the number of items must be >= 0, got ", n);
  return select(torch::arange(std::min(n, size()), torch::kInt64));
}

std::vector<std::string> dataset_names() { return {"fashion-mnist", "mnist", "shapes"}; }

Dataset load_dataset(const std::string& name, const DatasetOptions& options) {
  CFX_CHECK(options.limit == -1 || options.limit > 0,
            "dataset limit must be positive or -1 (all), got ", options.limit);
  const bool builtin = name == "fashion-mnist" || name == "mnist" || name == "shapes";
  if (builtin) {
    CFX_CHECK(options.split == "train" || options.split == "test", "unknown split '", options.split,
              "' for dataset ", name, "; use train or test");
  }
  Dataset ds;
  if (name == "fashion-mnist") {
    ds = load_fashion_mnist(options.split);
  } else if (name == "mnist") {
    ds = load_mnist(options.split);
  } else if (name == "shapes") {
    ShapesOptions so;
    so.split = options.split;
    so.seed = options.seed;
    so.rule = options.shapes_rule;
    so.size = options.shapes_size;
    CFX_CHECK(options.shapes_count == -1 || options.shapes_count > 0,
              "shapes count must be positive or -1 (default), got ", options.shapes_count);
    so.count = options.shapes_count > 0 ? options.shapes_count : shapes_split_size(options.split);
    // Items are seeded one by one, so generating only the first `limit` gives the same items.
    if (options.limit > 0) so.count = std::min(so.count, options.limit);
    ds = generate_shapes(so);
  } else if (!name.empty() && is_dir(name)) {
    ds = load_image_folder(name);  // folders have no splits: every image is loaded
  } else {
    fail("unknown dataset '", name,
         "'; known: fashion-mnist, mnist, shapes, or a folder root/<class>/*.png");
  }
  if (options.limit > 0 && ds.size() > options.limit) ds = ds.head(options.limit);
  if (name == "fashion-mnist") {
    ds.attribute_names = morphometric_attribute_names();
    ds.attributes = fashion_mnist_attributes(ds.images);
  }
  return ds;
}

}  // namespace cfx
