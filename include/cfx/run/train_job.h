// What `cfx train <kind>` does, as one library call: a registry of trainers (name → trainer),
// each declaring its options once — key, default (which fixes the type) and help — so the CLI
// makes its flags from them, Python its keywords, and a job is plain JSON. A trainer writes
// the weights file and its JSON sidecar (seed, command, training curves, held-out quality).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cfx {

/// One option of a trainer. The CLI flag is --key with '_' written '-' (a bool is a flag with
/// a --no-key twin); Python takes it as the keyword `key`.
struct TrainOption {
  std::string key;
  nlohmann::json default_value;  // also its type: integer, number, string or bool
  std::string help;
};

/// What a trainer wrote.
struct TrainOutcome {
  std::string path;        // the weights file
  nlohmann::json sidecar;  // what its sidecar (path's NAME.json) records
  std::string summary;     // held-out quality, the lines `cfx train` prints before "wrote"
};

/// A training run: the kind of model, its options and where to write it.
struct TrainJob {
  std::string kind = "classifier";                    // a trainer's name (trainers())
  nlohmann::json options = nlohmann::json::object();  // that trainer's options; missing keys
                                                      // keep their defaults
  std::string out;      // weights file to write; its sidecar NAME.json goes beside it
  std::string command;  // what the sidecar records as the command that made the model

  /// Throws cfx::Error naming an unknown kind (and the known ones), an unknown option (and the
  /// trainer's options), a value of the wrong type, or an empty `out`.
  void validate() const;
  nlohmann::json to_json() const;
  /// Unknown keys are an error; missing keys keep their defaults.
  static TrainJob from_json(const nlohmann::json& j);
};

/// A kind of model cfx trains.
struct Trainer {
  std::string kind;
  std::string description;
  std::vector<TrainOption> options;  // every option but the output path
  // Called with every option present (defaults filled in and type-checked) and a writable
  // out folder.
  std::function<TrainOutcome(const nlohmann::json& options, const std::string& out,
                             const std::string& command)>
      train;
};

/// Every trainer: classifier, autoencoder, inpainter, vae, attributes, shifter, cvae,
/// text-classifier, text-cvae.
const std::vector<Trainer>& trainers();

/// The trainer of `kind`; throws cfx::Error listing the known kinds on a miss.
const Trainer& trainer(const std::string& kind);

/// Trains and writes the model of `job` (which is validated first).
TrainOutcome run_train(const TrainJob& job);

}  // namespace cfx
