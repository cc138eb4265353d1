// result.json and the per-item PNGs of an explain run.
//
// Schema "cfx.result" version 1: {schema, schema_version, cfx_version, command, model,
// config, items: [...], summary: {...}}; DESIGN.md and docs/outputs.md list the fields.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/eval/explain.h"

namespace cfx {

constexpr int kResultSchemaVersion = 1;

/// Writes `out_dir`/result.json and `out_dir`/images/NNNN_{original,counterfactual,diff}.png.
/// images: [N, C, H, W] queries; targets: [N]; inputs: one description per item (a path or
/// "dataset:split:index"). `per_item` adds numbers ([N] tensors) or curves ([N, K]) to each
/// item under their names (names the item already has are kept). Returns the JSON written.
/// Every file is written atomically. With `out_dir` empty nothing is written and the
/// document is only returned (its image names are those a write would give).
nlohmann::json write_explain_outputs(const std::string& out_dir, const Classifier& F,
                                     const torch::Tensor& images, const torch::Tensor& targets,
                                     const std::vector<std::string>& inputs, const Explanation& e,
                                     const nlohmann::json& run_info,
                                     const std::map<std::string, torch::Tensor>& per_item = {});

}  // namespace cfx
