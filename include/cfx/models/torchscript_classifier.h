// Classifiers exported from PyTorch with torch.jit.script or torch.jit.trace.
//
// Features and batch-norm inputs are captured without hooks (TorchScript has none in
// C++): a copy of the inlined forward graph is rewritten so that the wanted values become
// extra outputs, then run as its own function on the same module.
#pragma once

#include "cfx/models/classifier.h"

namespace cfx {

/// Loads a TorchScript archive. Metadata comes from the archive's extra file `cfx.json`
/// ({"input_shape":[C,H,W], "classes":[...], "mean":[...], "std":[...]}), then `overrides`.
/// Throws cfx::Error (naming the path) if the file is not a TorchScript archive, has no
/// forward, or its input shape cannot be determined.
std::shared_ptr<Classifier> load_torchscript_classifier(const std::string& path,
                                                        const ClassifierOverrides& overrides);

}  // namespace cfx
