#include "cfx/text/corpus.h"

#include <cctype>
#include <random>

#include "cfx/core/error.h"

namespace cfx {

namespace {

using Words = std::vector<std::string>;
const Words kDet = {"the", "this", "that", "our"};
const Words kFood = {"pizza", "soup", "pasta", "burger", "salad", "cake", "coffee", "curry"};
const Words kFilm = {"movie", "film", "plot", "acting", "ending", "script", "cast", "soundtrack"};
const Words kPositive = {"good",   "great",  "excellent", "wonderful",
                         "lovely", "superb", "fantastic", "enjoyable"};
const Words kNegative = {"bad",   "awful", "terrible", "boring",
                         "bland", "poor",  "dreadful", "disappointing"};
const Words kIntensifier = {"very", "really", "quite", "truly", "so"};
// Tense shows in the verb and, in the "i think" frame, in the opinion verb too.
const Words kPresent = {"is", "think"}, kPast = {"was", "thought"};
const Words kOther = {"not", "i", "honestly", "overall", ",", ".", "!"};

bool contains(const Words& ws, const std::string& w) {
  for (const auto& x : ws)
    if (x == w) return true;
  return false;
}

// One sentence from its attributes; `pick(n)` draws uniformly from [0, n).
template <class Pick>
Words sentence(bool positive, bool negated, bool film, bool past, Pick&& pick) {
  Words s;
  const int frame = static_cast<int>(pick(3));
  if (frame == 1) s = {"i", past ? "thought" : "think"};
  if (frame == 2) s = {"honestly", ","};
  s.push_back(kDet[pick(kDet.size())]);
  const auto& nouns = film ? kFilm : kFood;
  s.push_back(nouns[pick(nouns.size())]);
  s.push_back(past ? "was" : "is");
  if (negated) s.push_back("not");
  if (pick(2)) s.push_back(kIntensifier[pick(kIntensifier.size())]);
  const auto& adjs = positive ? kPositive : kNegative;
  s.push_back(adjs[pick(adjs.size())]);
  switch (pick(4)) {
    case 1:
      s.push_back(".");
      break;
    case 2:
      s.push_back("!");
      break;
    case 3:
      s.insert(s.end(), {"overall", "."});
      break;
    default:
      break;
  }
  return s;
}

std::string join(const Words& ws) {
  std::string out;
  for (const auto& w : ws) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

const std::vector<std::string>& text_attribute_names() {
  static const Words names = {"positive", "negated", "film", "past"};
  return names;
}

const std::vector<std::string>& text_class_names() {
  static const Words names = {"negative", "positive"};
  return names;
}

const std::vector<int64_t>& text_rule_attributes() {
  static const std::vector<int64_t> cols = {0, 1};
  return cols;
}

Vocab::Vocab(std::vector<std::string> words) : words_(std::move(words)) {
  CFX_CHECK(words_.size() >= 2 && words_[kPad] == "<pad>" && words_[kUnk] == "<unk>",
            "a vocabulary must start with <pad> and <unk>");
  for (size_t i = 0; i < words_.size(); ++i) {
    CFX_CHECK(index_.emplace(words_[i], static_cast<int64_t>(i)).second, "vocabulary lists '",
              words_[i], "' twice");
  }
}

Vocab Vocab::corpus() {
  Words w = {"<pad>", "<unk>"};
  for (const Words* list :
       {&kDet, &kFood, &kFilm, &kPositive, &kNegative, &kIntensifier, &kPresent, &kPast, &kOther})
    w.insert(w.end(), list->begin(), list->end());
  return Vocab(std::move(w));
}

int64_t Vocab::id(const std::string& word) const {
  auto it = index_.find(word);
  return it == index_.end() ? kUnk : it->second;
}

const std::string& Vocab::word(int64_t id) const {
  CFX_ASSERT(id >= 0 && id < size());
  return words_[id];
}

std::vector<std::string> tokenize(const std::string& text) {
  Words out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '\'' || c >= 0x80) {  // keep UTF-8 words whole
      cur += static_cast<char>(std::tolower(c));
    } else {
      flush();
      if (!std::isspace(c)) out.emplace_back(1, static_cast<char>(c));
    }
  }
  flush();
  return out;
}

EncodedTexts encode_texts(const std::vector<std::string>& texts, const Vocab& vocab,
                          int64_t max_len) {
  const int64_t n = static_cast<int64_t>(texts.size());
  EncodedTexts e;
  e.ids = torch::full({n, max_len}, Vocab::kPad, torch::kLong);
  e.unknown.resize(n);
  auto acc = e.ids.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    auto tokens = tokenize(texts[i]);
    CFX_CHECK(!tokens.empty(), "text ", i + 1,
              " is empty; give a sentence such as 'the movie was good'");
    CFX_CHECK(static_cast<int64_t>(tokens.size()) <= max_len, "text ", i + 1, " ('", texts[i],
              "') has ", tokens.size(), " tokens; the text models read at most ", max_len);
    for (size_t t = 0; t < tokens.size(); ++t) {
      acc[i][t] = vocab.id(tokens[t]);
      if (acc[i][t] == Vocab::kUnk) e.unknown[i].push_back(tokens[t]);
    }
  }
  return e;
}

std::string decode_ids(const torch::Tensor& ids, const Vocab& vocab) {
  auto row = ids.to(torch::kCPU, torch::kLong).contiguous();
  Words ws;
  for (int64_t t = 0; t < row.numel(); ++t)
    if (row.data_ptr<int64_t>()[t] != Vocab::kPad)
      ws.push_back(vocab.word(row.data_ptr<int64_t>()[t]));
  return join(ws);
}

torch::Tensor annotate(const torch::Tensor& ids, const Vocab& vocab) {
  auto x = ids.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t n = x.size(0), len = x.size(1);
  auto out = torch::full({n, 4}, -1.0f);
  auto xa = x.accessor<int64_t, 2>();
  auto oa = out.accessor<float, 2>();
  for (int64_t i = 0; i < n; ++i) {
    int pos = 0, neg = 0, food = 0, film = 0, past = 0, present = 0, nots = 0;
    for (int64_t t = 0; t < len; ++t) {
      const auto& w = vocab.word(xa[i][t]);
      pos += contains(kPositive, w);
      neg += contains(kNegative, w);
      food += contains(kFood, w);
      film += contains(kFilm, w);
      past += contains(kPast, w);
      present += contains(kPresent, w);
      nots += w == "not";
    }
    // One adjective, one noun, one tense and at most one "not": otherwise not a sentence of
    // the grammar, whose attributes would be a guess.
    if (pos + neg != 1 || food + film != 1 || (past > 0) == (present > 0) || nots > 1) continue;
    oa[i][0] = pos;
    oa[i][1] = nots;
    oa[i][2] = film;
    oa[i][3] = past > 0;
  }
  return out;
}

torch::Tensor text_rule(const torch::Tensor& attributes) {
  auto a = attributes.to(torch::kCPU, torch::kFloat);
  auto known = (a.select(1, 0) >= 0) & (a.select(1, 1) >= 0);
  auto label = ((a.select(1, 0) > 0.5) != (a.select(1, 1) > 0.5)).to(torch::kLong);
  return torch::where(known, label, torch::full_like(label, -1));
}

void TextCorpusOptions::validate() const {
  CFX_CHECK(train_size >= 1 && train_size <= 10000000,
            "text corpus option train_size = ", train_size, " (use 1 to 10000000)");
  CFX_CHECK(test_size >= 1 && test_size <= 10000000, "text corpus option test_size = ", test_size,
            " (use 1 to 10000000)");
  CFX_CHECK(max_len >= 10 && max_len <= 256, "text corpus option max_len = ", max_len,
            " (use 10 to 256: the grammar's longest sentence has 10 tokens)");
}

nlohmann::json TextCorpusOptions::to_json() const {
  return {
      {"train_size", train_size}, {"test_size", test_size}, {"max_len", max_len}, {"seed", seed}};
}

TextDataset make_text_corpus(const TextCorpusOptions& o, const std::string& split) {
  o.validate();
  CFX_CHECK(split == "train" || split == "test", "text corpus split '", split,
            "' (use train or test)");
  const bool train = split == "train";
  // mt19937_64 and modulo (not std::uniform_int_distribution, whose algorithm is left to the
  // standard library) so a seed gives the same corpus with every compiler.
  std::mt19937_64 rng(o.seed * 2 + (train ? 0 : 1) + 0x5eed);
  auto pick = [&](size_t k) { return static_cast<size_t>(rng() % k); };
  const int64_t n = train ? o.train_size : o.test_size;
  TextDataset d;
  d.attributes = torch::zeros({n, 4});
  auto aa = d.attributes.accessor<float, 2>();
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k) aa[i][k] = static_cast<float>(pick(2));
    d.texts.push_back(join(sentence(aa[i][0] > 0, aa[i][1] > 0, aa[i][2] > 0, aa[i][3] > 0, pick)));
  }
  d.ids = encode_texts(d.texts, Vocab::corpus(), o.max_len).ids;
  d.labels = text_rule(d.attributes);
  return d;
}

}  // namespace cfx
