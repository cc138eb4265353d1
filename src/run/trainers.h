// Internal to src/run: the trainers of each family and what they share (the training data
// options, reading options, the output check). The registry is in train_job.cpp.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cfx/data/dataset.h"
#include "cfx/run/train_job.h"

namespace cfx::train_detail {

/// The options of an image trainer's data: data (default `dataset`), limit, shapes_rule,
/// shapes_size, data_seed.
std::vector<TrainOption> data_options(const std::string& dataset = "fashion-mnist");

/// data_options() followed by a trainer's own options.
std::vector<TrainOption> with_data(std::vector<TrainOption> own);

/// The train split (at most `limit` items) and the whole test split of the options' data.
/// Throws cfx::Error if the train split is empty.
std::pair<Dataset, Dataset> load_train_data(const nlohmann::json& o);

/// The whole test split of dataset `name`, read with the options' dataset settings (seed,
/// shapes rule and size), as load_train_data reads its own: e.g. out-of-distribution images
/// at the training data's shape.
Dataset load_test_split(const nlohmann::json& o, const std::string& name);

/// {"dataset", "dataset_options"} for a sidecar.
nlohmann::json data_json(const nlohmann::json& o);

/// `path`'s folder as seen from `out`'s folder, so a models folder can move as a whole.
std::string relative_to(const std::string& path, const std::string& out);

/// The line every trainer prints last.
std::string wrote(const std::string& out);

std::vector<Trainer> image_trainers();   // classifier, autoencoder, inpainter
std::vector<Trainer> latent_trainers();  // vae, attributes, shifter, cvae
std::vector<Trainer> text_trainers();    // text-classifier, text-cvae

}  // namespace cfx::train_detail
