// AIP counterfactuals for sentences (METHODS.md §4, `cfx explain-text --method aip`): z0 = E(x),
// a0 = D(x); the shared aip_search moves (z, a) until the classifier F, reading G(z, a), decides
// the target. The counterfactual is the argmax decoding of G(z, a), and validity is judged on
// that hard sentence, never on the soft one the gradients flow through.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/methods/aip/search.h"
#include "cfx/text/text_classifier.h"
#include "cfx/text/text_cvae.h"

namespace cfx {

struct TextAipOptions {
  // The shared optimiser (steps, lr, alpha, beta, confidence); lr 0.1 on text, where the
  // attributes must cross 0.5 before a single word changes.
  AipSearchOptions search = [] {
    AipSearchOptions s;
    s.lr = 0.1;
    s.attribute_lr = 0.1;
    return s;
  }();
  double temperature = 3.0;      // τ: F reads softmax(G(z, a) / τ); a flat softmax passes F's
                                 // gradient on to G (τ = 0.5 left half the searches stuck)
  bool straight_through = true;  // F's forward pass reads the argmax sentence (so items stop
                                 // when the hard sentence is valid); gradients use the soft one
  int64_t batch_size = 64;       // sentences optimised together
  uint64_t seed = 0;             // seeds torch before the search, for repeatable runs
  std::string device = "cpu";    // where the search runs: cpu or cuda
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
  /// The defaults with `j`'s keys (those of to_json) over them; unknown keys, values of the
  /// wrong type and invalid values are errors naming the key.
  static TextAipOptions from_json(const nlohmann::json& j);
};

/// One sentence's explanation. Probabilities are F's softmax; "class" values index F's classes.
struct TextExplanation {
  std::string text;                        // the input as given
  std::string tokens;                      // the input as the models read it (with <unk>)
  std::vector<std::string> unknown_words;  // words of the input that became <unk>
  std::string reconstruction;              // argmax G(z0, a0): the generator's own error
  std::string counterfactual;              // argmax G(z, a) after the search
  std::vector<float> attributes_before;    // a0 = D(x)
  std::vector<float> attributes_after;     // a after the search, in [0, 1]
  std::vector<float> attributes_seen;      // D on the counterfactual sentence
  int64_t target = 0;                      // the class asked for
  int64_t class_before = 0, class_reconstruction = 0, class_after = 0;  // F's decisions
  float prob_before = 0, prob_reconstruction = 0, prob_after = 0;       // p of each decision
  float target_prob_after = 0;  // F's p_target on the counterfactual sentence
  bool valid = false;           // F decides the target on the counterfactual sentence
  int64_t tokens_changed = 0;   // word-level edit distance from the input to the counterfactual
  int64_t steps = 0;            // search steps taken
  std::vector<float> grammar_before, grammar_after;  // the corpus grammar's reading of the input
                                                     // and the counterfactual (annotate), −1
                                                     // where it is not a sentence of the grammar
};

struct TextAipResult {
  std::vector<TextExplanation> items;
  std::vector<std::string> attribute_names;  // G's attributes, the columns of attributes_*
  std::vector<std::string> class_names;      // F's classes
  double seconds = 0;                        // wall time of the search and decoding
};

/// Throws cfx::Error if F and G do not read the same vocabulary and sentence length.
void check_text_models(const TextClassifier& F, const TextCvae& G);

/// `targets[i]` is a class index of F, or −1 for F's runner-up class on texts[i].
TextAipResult explain_text_aip(TextClassifier& F, TextCvae& G,
                               const std::vector<std::string>& texts,
                               const std::vector<int64_t>& targets, const TextAipOptions& options,
                               const ProgressFn& progress = {});

/// Word-level edit distance between two rows of token ids, pads ignored.
int64_t token_edit_distance(const torch::Tensor& a, const torch::Tensor& b);

/// result.json's document: the config, one entry per item (with the attributes that crossed
/// 0.5 listed by name and amount) and the summary (validity, mean tokens changed).
nlohmann::json text_result_json(const TextAipResult& r, const nlohmann::json& config);

}  // namespace cfx
