// A seeded grammar of short review-like sentences with known attributes, for the text side of
// AIP (METHODS.md §4). Every sentence is generated from its attributes, and the grammar can read
// them back (annotate), so what a counterfactual sentence really changed is known, not estimated.
#pragma once

#include <torch/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

namespace cfx {

/// The corpus's attributes, in the order of the attribute columns: the adjective's polarity
/// ("positive"), "not" before it ("negated"), a film noun rather than a food noun ("film"),
/// "was"/"thought" rather than "is"/"think" ("past").
const std::vector<std::string>& text_attribute_names();
/// The classifier's classes: index 1 ("positive") iff positive XOR negated, the meaning.
const std::vector<std::string>& text_class_names();
/// The columns of text_attribute_names() that the class rule reads (positive, negated).
const std::vector<int64_t>& text_rule_attributes();

/// Words <-> ids. Id 0 is "<pad>" (fills sentences to the fixed length), id 1 is "<unk>".
class Vocab {
 public:
  static constexpr int64_t kPad = 0, kUnk = 1;
  explicit Vocab(std::vector<std::string> words);
  /// Every word the grammar can produce, in a fixed order.
  static Vocab corpus();
  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  /// kUnk for a word not in the vocabulary.
  int64_t id(const std::string& word) const;
  const std::string& word(int64_t id) const;
  const std::vector<std::string>& words() const { return words_; }
  bool operator==(const Vocab& o) const { return words_ == o.words_; }

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> index_;
};

/// Lower-cases and splits on whitespace; every other non-letter, non-digit character except
/// the apostrophe becomes a token of its own ("good!" -> "good", "!").
std::vector<std::string> tokenize(const std::string& text);

struct EncodedTexts {
  torch::Tensor ids;                              // [N, T] int64, padded with kPad
  std::vector<std::vector<std::string>> unknown;  // per text: words that became <unk>
};

/// Tokenizes and pads to `max_len`. Throws cfx::Error naming the text if one is empty or
/// longer than `max_len` tokens.
EncodedTexts encode_texts(const std::vector<std::string>& texts, const Vocab& vocab,
                          int64_t max_len);
/// The words of one row of ids, pads dropped, joined with spaces.
std::string decode_ids(const torch::Tensor& ids, const Vocab& vocab);

/// Reads the attributes back from token ids [N, T] with the grammar's word lists: [N, K] float,
/// with −1 in every column of a row that is not one sentence of the grammar (no adjective or
/// noun, or two of them), since such a row has no well-defined attributes.
torch::Tensor annotate(const torch::Tensor& ids, const Vocab& vocab);
/// The class rule on attributes [N, K] (in {0, 1}): [N] int64; −1 where a row is −1.
torch::Tensor text_rule(const torch::Tensor& attributes);

struct TextCorpusOptions {
  int64_t train_size = 6000;  // sentences in the train split
  int64_t test_size = 1000;   // sentences in the test split
  int64_t max_len = 12;       // tokens per sentence after padding (the longest has 10)
  uint64_t seed = 0;          // the grammar's random choices; train and test use separate streams
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
};

struct TextDataset {
  std::vector<std::string> texts;  // the sentences
  torch::Tensor ids;               // [N, T] int64
  torch::Tensor attributes;        // [N, K] float in {0, 1}
  torch::Tensor labels;            // [N] int64: text_rule(attributes)
  int64_t size() const { return static_cast<int64_t>(texts.size()); }
};

/// `split` is "train" or "test". Same options, same sentences.
TextDataset make_text_corpus(const TextCorpusOptions& options, const std::string& split);

}  // namespace cfx
