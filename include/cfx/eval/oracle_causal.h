// Global causal scores through the oracle generator (METHODS.md §3): on `shapes` the renderer
// draws each scene again with one attribute set on or off (intervene_shapes), so the scores
// measure the classifier alone, with no generator between it and the intervention. They are
// the truth that scores through a learned generator and shift predictor are judged against.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cfx/data/shapes_scenes.h"
#include "cfx/eval/causal.h"

namespace cfx {

/// Renders the scenes and every attribute's do(on) and do(off) of them, and records F's view
/// of each image. attr, took_on and took_off are the scenes' true attributes (an intervention
/// fails only where no scene in range has the state, e.g. `left` for an object exactly in the
/// middle). `outcome`: class indices of F; `only`: attributes to score, comma-separated ("":
/// all 11). Scenes are rendered `batch_size` at a time; `progress` runs after every batch.
/// Throws cfx::Error if F does not take the scenes' [3, size, size] images or a class is out
/// of range.
InterventionSamples sample_oracle_interventions(Classifier& F, const std::vector<int64_t>& outcome,
                                                const ShapesScenes& scenes, int64_t batch_size,
                                                const std::string& only,
                                                const ProgressFn& progress = {});

}  // namespace cfx
