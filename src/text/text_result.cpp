// result.json of `cfx explain-text`: per-item explanations in attribute words, and the summary
// the text claims rest on (docs/claims-aip-text.md).
#include <algorithm>
#include <cmath>

#include "cfx/text/aip_text.h"

using nlohmann::json;

namespace cfx {

namespace {

double round4(double v) { return std::round(v * 1e4) / 1e4; }

// Attributes whose relaxed value crossed 0.5: the explanation, by name and amount.
json changed_attributes(const TextExplanation& t, const std::vector<std::string>& names) {
  json out = json::array();
  for (size_t k = 0; k < names.size(); ++k) {
    double b = t.attributes_before[k], a = t.attributes_after[k];
    if ((b >= 0.5) == (a >= 0.5)) continue;
    out.push_back({{"name", names[k]},
                   {"before", round4(b)},
                   {"after", round4(a)},
                   {"delta", round4(a - b)}});
  }
  return out;
}

// Attributes the grammar reads differently in the counterfactual; empty if either sentence is
// outside the grammar.
std::vector<size_t> grammar_flips(const TextExplanation& t) {
  std::vector<size_t> flips;
  if (t.grammar_before.empty() || t.grammar_before[0] < 0 || t.grammar_after[0] < 0) return flips;
  for (size_t k = 0; k < t.grammar_before.size(); ++k)
    if (t.grammar_before[k] != t.grammar_after[k]) flips.push_back(k);
  return flips;
}

json summary(const TextAipResult& r) {
  const auto n = static_cast<double>(r.items.size());
  double valid = 0, tokens = 0, in_grammar = 0, rule_only = 0, ignored = 0;
  std::vector<double> flips(r.attribute_names.size(), 0);
  const auto& rule = text_rule_attributes();
  for (const auto& t : r.items) {
    if (!t.valid) continue;
    valid += 1;
    tokens += t.tokens_changed;
    if (t.grammar_before.empty() || t.grammar_before[0] < 0 || t.grammar_after[0] < 0) continue;
    in_grammar += 1;
    bool only_rule = true, any_ignored = false;
    for (size_t k : grammar_flips(t)) {
      flips[k] += 1;
      bool ruled = std::find(rule.begin(), rule.end(), static_cast<int64_t>(k)) != rule.end();
      only_rule = only_rule && ruled;
      any_ignored = any_ignored || !ruled;
    }
    rule_only += only_rule;
    ignored += any_ignored;
  }
  json s = {{"items", r.items.size()},
            {"valid", valid},
            {"validity", n ? valid / n : 0.0},
            {"mean_tokens_changed_valid", valid ? tokens / valid : 0.0},
            {"seconds", r.seconds},
            {"seconds_per_item", n ? r.seconds / n : 0.0}};
  if (in_grammar > 0 || !r.items.empty()) {
    json per = json::object();
    for (size_t k = 0; k < flips.size(); ++k)
      per[r.attribute_names[k]] = in_grammar ? flips[k] / in_grammar : 0.0;
    s["grammar"] = {{"valid_in_grammar", in_grammar},
                    {"flip_rate", per},
                    {"only_rule_attributes_changed", in_grammar ? rule_only / in_grammar : 0.0},
                    {"ignored_attribute_changed", in_grammar ? ignored / in_grammar : 0.0}};
  }
  return s;
}

}  // namespace

json text_result_json(const TextAipResult& r, const json& config) {
  json items = json::array();
  for (const auto& t : r.items) {
    json attrs = json::object();
    for (size_t k = 0; k < r.attribute_names.size(); ++k)
      attrs[r.attribute_names[k]] = {{"before", round4(t.attributes_before[k])},
                                     {"after", round4(t.attributes_after[k])},
                                     {"seen", round4(t.attributes_seen[k])}};
    json item = {
        {"text", t.text},
        {"tokens", t.tokens},
        {"unknown_words", t.unknown_words},
        {"reconstruction", t.reconstruction},
        {"counterfactual", t.counterfactual},
        {"target", r.class_names[t.target]},
        {"before", {{"class", r.class_names[t.class_before]}, {"prob", t.prob_before}}},
        {"reconstruction_decision",
         {{"class", r.class_names[t.class_reconstruction]}, {"prob", t.prob_reconstruction}}},
        {"after", {{"class", r.class_names[t.class_after]}, {"prob", t.prob_after}}},
        {"target_prob", t.target_prob_after},
        {"valid", t.valid},
        {"tokens_changed", t.tokens_changed},
        {"steps", t.steps},
        {"attributes", attrs},
        {"changed_attributes", changed_attributes(t, r.attribute_names)}};
    if (!t.grammar_before.empty()) {
      json flipped = json::array();
      for (size_t k : grammar_flips(t)) flipped.push_back(r.attribute_names[k]);
      item["grammar_changed_attributes"] = flipped;
      item["in_grammar"] = t.grammar_before[0] >= 0 && t.grammar_after[0] >= 0;
    }
    items.push_back(std::move(item));
  }
  return {{"schema", "cfx-text-result"},
          {"schema_version", 1},
          {"config", config},
          {"summary", summary(r)},
          {"items", items}};
}

}  // namespace cfx
