// What `cfx explain-text` does, as one library call: counterfactual sentences for the text
// classifier in attribute words (AIP, METHODS.md §4), in memory, and a writer for its
// result.json. The CLI and cfx.explain_text in Python call these.
#pragma once

#include <string>
#include <vector>

#include "cfx/text/aip_text.h"

namespace cfx {

/// One text explanation run. Defaults are the CLI's. Exactly one of texts, texts_file and
/// corpus names the sentences.
struct TextJob {
  std::string method = "aip";      // the one text method
  std::string model;               // text classifier ("": the shipped models/text-classifier.pt)
  std::string cvae;                // text cvae ("": the shipped models/text-cvae.pt)
  std::vector<std::string> texts;  // sentences to explain
  std::string texts_file;          // or a file with one sentence per line
  std::string corpus;              // or "train"/"test": sentences of the corpus grammar
  int64_t n = 200;                 // sentences taken from the corpus (>= 1)
  uint64_t corpus_seed = 0;        // seed of the corpus grammar
  std::string target = "auto";     // class name or index, or auto (F's runner-up class)
  std::string optimise = "both";   // what moves: both (z and a), a, or z
  nlohmann::json options = nlohmann::json::object();  // TextAipOptions' keys (steps, lr, ...)

  /// Throws cfx::Error naming the field and value that is wrong.
  void validate() const;
  nlohmann::json to_json() const;
  /// Unknown keys are an error; missing keys keep their defaults.
  static TextJob from_json(const nlohmann::json& j);
  /// The search options: the defaults, `options` over them and `optimise`.
  TextAipOptions aip_options() const;
};

/// What a text run produced, in memory.
struct TextOutcome {
  TextAipResult result;
  nlohmann::json document;  // result.json, exactly as write_explain_text() writes it
};

/// Runs `job`: loads the sentences and both models, explains every sentence. `command` is
/// recorded in result.json's config. Progress per search step.
TextOutcome run_explain_text(const TextJob& job, const std::string& command = "",
                             const ProgressFn& progress = {});

/// Writes result.json into `dir` (created if needed).
void write_explain_text(const TextOutcome& outcome, const std::string& dir);

}  // namespace cfx
