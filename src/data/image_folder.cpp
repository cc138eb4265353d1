#include "cfx/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/data/image_io.h"

namespace fs = std::filesystem;

namespace cfx {

namespace {

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// Sorted entries of `dir` accepted by `keep`; sorting makes labels and order reproducible
// across file systems.
template <class Keep>
std::vector<fs::path> sorted_entries(const fs::path& dir, Keep keep) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!hidden(it->path()) && keep(*it)) out.push_back(it->path());
  }
  CFX_CHECK(!ec, "cannot list folder ", dir.string(), ": ", ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Dataset load_image_folder(const std::string& root) {
  CFX_CHECK(is_dir(root), "image folder ", root, " does not exist or is not a folder");
  const auto class_dirs = sorted_entries(root, [](const fs::directory_entry& e) {
    std::error_code ec;
    return e.is_directory(ec);
  });
  const std::string layout = "expected root/<class>/<image>.png (or .jpg, .jpeg, .bmp)";
  if (class_dirs.empty()) {
    const auto loose = sorted_entries(root, [](const fs::directory_entry& e) {
      std::error_code ec;
      return e.is_regular_file(ec) && is_image_name(e.path());
    });
    CFX_CHECK(loose.empty(), "image folder ", root, " holds images but no class subfolders; ",
              layout);
    fail("image folder ", root, " has no class subfolders; ", layout);
  }

  Dataset ds;
  ds.name = root;
  ds.split = "all";
  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
  int64_t resized = 0;
  for (size_t k = 0; k < class_dirs.size(); ++k) {
    ds.class_names.push_back(class_dirs[k].filename().string());
    const auto files = sorted_entries(class_dirs[k], [](const fs::directory_entry& e) {
      std::error_code ec;
      return e.is_regular_file(ec) && is_image_name(e.path());
    });
    if (files.empty()) notice(str("class folder ", class_dirs[k].string(), " holds no images"));
    for (const auto& f : files) {
      torch::Tensor img = read_image(f.string());
      if (!images.empty()) {
        const auto& first = images.front();
        CFX_CHECK(img.size(0) == first.size(0), "image ", f.string(), " has ", img.size(0),
                  " channels but ", ds.sources.front(), " has ", first.size(0),
                  "; all images of a folder dataset must be all grey or all RGB");
        if (img.size(1) != first.size(1) || img.size(2) != first.size(2)) {
          img = resize_image(img, first.size(1), first.size(2));
          ++resized;
        }
      }
      images.push_back(img);
      labels.push_back(static_cast<int64_t>(k));
      ds.sources.push_back(f.string());
    }
  }
  CFX_CHECK(!images.empty(), "image folder ", root, " holds no images; ", layout);
  if (resized > 0) {
    notice(str("resized ", resized, " image", resized == 1 ? "" : "s", " of ", root, " to ",
               images.front().size(1), "x", images.front().size(2), ", the size of ",
               ds.sources.front()));
  }
  ds.images = torch::stack(images);
  ds.labels = torch::tensor(labels, torch::kInt64);
  return ds;
}

}  // namespace cfx
