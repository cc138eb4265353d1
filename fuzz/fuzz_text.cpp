// Text inputs of cfx explain-text (--texts FILE: one sentence per line): tokenized, encoded
// with the corpus vocabulary, annotated and decoded back.
#include <sstream>

#include "cfx/text/corpus.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const cfx::Vocab vocab = cfx::Vocab::corpus();
  std::vector<std::string> lines;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  for (std::string line; std::getline(in, line);) {
    cfx::tokenize(line);
    lines.push_back(line);
  }
  if (lines.empty()) return 0;
  cfx::fuzz::expect_clean([&] {
    auto encoded = cfx::encode_texts(lines, vocab, 24);
    cfx::annotate(encoded.ids, vocab);
    for (int64_t i = 0; i < encoded.ids.size(0); ++i) cfx::decode_ids(encoded.ids[i], vocab);
  });
  return 0;
}
