// Where a classifier's companion models are found — the one rule every method and job uses.
// `cfx train` writes a dataset's models side by side (models/fashion-mnist-cnn.pt beside
// fashion-mnist-cvae.pt, -shifter.pt, -inpainter.pt, -attributes.pt, -oracle-resnet.pt), so
// a method that needs one finds it from the classifier without being told; a checkpoint that
// depends on another records that one's path relative to its own folder.
#pragma once

#include <string>

namespace cfx {

class Classifier;

/// `<dataset>-<kind>.pt` beside the file F was loaded from, e.g. kind "cvae" for
/// models/fashion-mnist-cnn.pt gives models/fashion-mnist-cvae.pt; `dataset` overrides F's
/// own. "" when F names no file or dataset. The file need not exist (messages name it).
std::string companion_path(const Classifier& F, const std::string& kind,
                           const std::string& dataset = "");

/// The companion to use: `given` if set ("none": none, ""), else companion_path(F, kind,
/// dataset) if that file exists, else "". F may be null (then only `given` counts).
std::string find_companion(const std::string& given, const Classifier* F, const std::string& kind,
                           const std::string& dataset = "");

/// A path recorded in `checkpoint`'s sidecar, taken relative to the checkpoint's folder
/// unless absolute.
std::string recorded_path(const std::string& recorded, const std::string& checkpoint);

}  // namespace cfx
