#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/surface.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/torchscript_classifier.h"

namespace cfx {

std::shared_ptr<Classifier> load_classifier(const std::string& path,
                                            const ClassifierOverrides& overrides) {
  CFX_CHECK(!path.empty(), "no model given (pass ", option("model", "FILE", "PATH"), ")");
  CFX_CHECK(is_file(path), "model file not found: ", path);
  if (!read_sidecar(path).is_null()) return load_native_classifier(path, overrides);
  return load_torchscript_classifier(path, overrides);
}

}  // namespace cfx
