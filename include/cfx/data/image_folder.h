// A user's own images laid out as root/<class>/<image>.png|jpg|jpeg|bmp.
#pragma once

#include <string>

#include "cfx/data/dataset.h"

namespace cfx {

/// Loads every image under root/<class>/ (extensions png, jpg, jpeg, bmp in any case; hidden
/// entries skipped). Classes are the sorted subfolder names, items are sorted by class then
/// file name, sources are the file paths, split is "all". Images smaller or larger than the
/// first one are resized to its size (one notice for all). Throws cfx::Error if root is not a
/// folder, holds no images, or an image cannot be read or has a different channel count
/// (naming the file).
Dataset load_image_folder(const std::string& root);

}  // namespace cfx
