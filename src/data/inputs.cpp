#include "cfx/data/inputs.h"

#include <algorithm>
#include <filesystem>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/core/surface.h"
#include "cfx/data/dataset.h"
#include "cfx/data/image_io.h"

namespace fs = std::filesystem;

namespace cfx {

namespace {

bool is_image_name(const fs::path& p) {
  auto ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

void check_one_source(const InputOptions& o) {
  int given = !o.image.empty() + !o.images.empty() + !o.data.empty();
  CFX_CHECK(given == 1,
            given == 0 ? str("no input: pass ", option("image", "FILE", "PATH"), ", ",
                             option("images", "DIR", "DIR"), " or ", option("data", "NAME", "NAME"))
                       : str("pass only one of ", option("image"), ", ", option("images"), " and ",
                             option("data")));
}

// The image files of --image or --images, in name order.
std::vector<std::string> image_files(const InputOptions& o) {
  std::vector<std::string> files;
  if (!o.image.empty()) {
    files.push_back(o.image);
  } else {
    CFX_CHECK(is_dir(o.images), option("images"), " ", o.images, ": not a folder");
    for (const auto& e : fs::directory_iterator(o.images))
      if (e.is_regular_file() && is_image_name(e.path())) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    CFX_CHECK(!files.empty(), option("images"), " ", o.images, ": no .png/.jpg/.bmp files in it");
  }
  return files;
}

}  // namespace

std::vector<int64_t> native_input_shape(const InputOptions& o) {
  check_one_source(o);
  if (!o.image.empty() || !o.images.empty()) {
    auto s = read_image(image_files(o).front()).sizes();
    return {s[0], s[1], s[2]};
  }
  DatasetOptions dopt;
  dopt.split = o.split;
  dopt.seed = o.seed;
  dopt.limit = 1;
  auto s = load_dataset(o.data, dopt).images.sizes();
  return {s[1], s[2], s[3]};
}

Inputs load_inputs(const InputOptions& o, const std::vector<int64_t>& shape) {
  check_one_source(o);
  Inputs in;
  if (!o.image.empty() || !o.images.empty()) {
    const auto files = image_files(o);
    std::vector<torch::Tensor> imgs;
    for (const auto& f : files) imgs.push_back(conform_image(read_image(f), shape, f));
    in.images = torch::stack(imgs);
    in.sources = files;
    return in;
  }
  CFX_CHECK(o.n >= 1, option("n"), " must be at least 1, got ", o.n);
  CFX_CHECK(o.offset >= 0, option("offset"), " must be >= 0, got ", o.offset);
  DatasetOptions dopt;
  dopt.split = o.split;
  dopt.seed = o.seed;
  if (shape.size() == 3 && o.data == "shapes") dopt.shapes_size = shape[1];
  Dataset d = load_dataset(o.data, dopt);
  CFX_CHECK(o.offset < d.size(), option("offset"), " ", o.offset, " is past the end of ", o.data,
            " (", d.size(), " items)");
  auto idx = torch::arange(o.offset, std::min(d.size(), o.offset + o.n), torch::kLong);
  d = d.select(idx);
  CFX_CHECK(d.images.size(1) == shape[0], "dataset ", o.data, " has ", d.images.size(1),
            " channel(s) but the model expects ", shape[0]);
  if (d.images.size(2) == shape[1] && d.images.size(3) == shape[2]) {
    in.images = d.images;
  } else {
    notice("resizing " + o.data + " images from " + std::to_string(d.images.size(2)) + "x" +
           std::to_string(d.images.size(3)) + " to the model's " + std::to_string(shape[1]) + "x" +
           std::to_string(shape[2]));
    std::vector<torch::Tensor> imgs;
    for (int64_t i = 0; i < d.size(); ++i)
      imgs.push_back(resize_image(d.images[i], shape[1], shape[2]));
    in.images = torch::stack(imgs);
  }
  if (d.masks.defined()) {
    if (d.masks.size(2) == shape[1] && d.masks.size(3) == shape[2]) {
      in.masks = d.masks;
    } else {
      std::vector<torch::Tensor> ms;
      for (int64_t i = 0; i < d.size(); ++i)
        ms.push_back(resize_image(d.masks[i], shape[1], shape[2]).ge(0.5).to(torch::kFloat32));
      in.masks = torch::stack(ms);
    }
  }
  in.labels = d.labels;
  in.sources = d.sources;
  return in;
}

}  // namespace cfx
