// `cfx explain-text --method aip`: counterfactual sentences in attribute words (METHODS.md §4).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/run/targets.h"
#include "cfx/text/aip_text.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;

namespace cfx::cli {

namespace {

struct ExplainTextFlags {
  std::string method = "aip";
  std::string model = std::string(CFX_SOURCE_DIR) + "/models/text-classifier.pt";
  std::string cvae = std::string(CFX_SOURCE_DIR) + "/models/text-cvae.pt";
  std::vector<std::string> text;
  std::string texts;
  std::string corpus;  // "train" / "test": sentences of the grammar (for measuring)
  int64_t n = 200;
  uint64_t corpus_seed = 0;
  std::string target = "auto";
  std::string optimise = "both";
  std::string out;
  int64_t print_limit = 20;
  TextAipOptions aip;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
  }
  CFX_CHECK(!lines.empty(), "--texts ", path, " has no sentences (one per line)");
  return lines;
}

std::vector<std::string> gather_texts(const ExplainTextFlags& f) {
  const int given = !f.text.empty() + !f.texts.empty() + !f.corpus.empty();
  CFX_CHECK(given == 1, "give exactly one of --text, --texts FILE or --corpus SPLIT");
  if (!f.text.empty()) return f.text;
  if (!f.texts.empty()) return read_lines(f.texts);
  TextCorpusOptions o;
  o.seed = f.corpus_seed;
  CFX_CHECK(f.n >= 1, "--n ", f.n, " (use at least 1)");
  (f.corpus == "train" ? o.train_size : o.test_size) = f.n;
  return make_text_corpus(o, f.corpus).texts;
}

int64_t parse_target(const std::string& target, const TextClassifier& F) {
  if (target == "auto") return -1;
  const auto& names = F.class_names();
  auto t = parse_class(target, names);
  std::string known;
  for (const auto& c : names) known += (known.empty() ? "" : ", ") + c;
  CFX_CHECK(t && *t >= 0 && *t < F.num_classes(), "--target '", target,
            "' is not a class of the text classifier (classes: ", known, "; or auto)");
  return *t;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

void print_item(size_t i, const TextExplanation& t, const TextAipResult& r) {
  const auto& c = r.class_names;
  std::cout << "[" << i + 1 << "] " << t.text << "\n";
  if (!t.unknown_words.empty()) {
    std::cout << "    unknown words (read as <unk>):";
    for (const auto& w : t.unknown_words) std::cout << " " << w;
    std::cout << "\n";
  }
  std::cout << "    F before:        " << c[t.class_before] << " " << fmt(t.prob_before) << "\n"
            << "    reconstruction:  " << t.reconstruction << "  (F: " << c[t.class_reconstruction]
            << " " << fmt(t.prob_reconstruction) << ")\n"
            << "    counterfactual:  " << t.counterfactual << "  (F: " << c[t.class_after] << " "
            << fmt(t.prob_after) << "; target " << c[t.target] << ", "
            << (t.valid ? "valid" : "not valid") << ")\n"
            << "    attributes:     ";
  bool any = false;
  for (size_t k = 0; k < r.attribute_names.size(); ++k) {
    double d = t.attributes_after[k] - t.attributes_before[k];
    if (std::abs(d) < 0.1) continue;
    any = true;
    std::cout << " " << r.attribute_names[k] << " " << fmt(t.attributes_before[k]) << "->"
              << fmt(t.attributes_after[k]) << " (" << (d > 0 ? "+" : "") << fmt(d) << ")";
  }
  std::cout << (any ? "" : " none moved by 0.1 or more") << "\n"
            << "    tokens changed:  " << t.tokens_changed << "\n";
}

int explain_text_main(const ExplainTextFlags& f) {
  CFX_CHECK(f.method == "aip", "unknown text method '", f.method, "'; known: aip");
  CFX_CHECK(f.optimise == "both" || f.optimise == "a" || f.optimise == "z", "--optimise '",
            f.optimise, "' (use both, a or z)");
  if (!f.out.empty()) ensure_writable_dir(f.out);
  auto texts = gather_texts(f);
  auto F = TextClassifier::load(f.model);
  auto G = TextCvae::load(f.cvae);
  check_text_models(*F, *G);
  TextAipOptions o = f.aip;
  o.search.optimise_z = f.optimise != "a";
  o.search.optimise_a = f.optimise != "z";
  o.validate();
  std::vector<int64_t> targets(texts.size(), parse_target(f.target, *F));
  ProgressBar bar("aip", o.search.steps);
  auto r = explain_text_aip(*F, *G, texts, targets, o,
                            [&](int64_t step, int64_t, int64_t) { bar.update(step); });
  bar.finish();
  for (size_t i = 0; i < r.items.size() && static_cast<int64_t>(i) < f.print_limit; ++i)
    print_item(i, r.items[i], r);
  nlohmann::json config = {{"method", "aip"},        {"model", f.model},
                           {"cvae", f.cvae},         {"target", f.target},
                           {"optimise", f.optimise}, {"options", o.to_json()},
                           {"command", invocation()}};
  auto doc = text_result_json(r, config);
  const auto& s = doc["summary"];
  std::cout << "valid " << s["valid"].get<double>() << "/" << r.items.size()
            << ", mean tokens changed (valid) " << fmt(s["mean_tokens_changed_valid"].get<double>())
            << ", " << fmt(s["seconds_per_item"].get<double>() * 1000) << " ms per sentence\n";
  if (!f.out.empty()) {
    write_atomic((fs::path(f.out) / "result.json").string(), doc.dump(2) + "\n");
    std::cout << "wrote " << (fs::path(f.out) / "result.json").string() << "\n";
  }
  return 0;
}

}  // namespace

void add_explain_text_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "explain-text", "counterfactual sentences for the text classifier (AIP, METHODS.md §4)");
  auto f = std::make_shared<ExplainTextFlags>();
  sub->add_option("--method", f->method, "text method: aip");
  sub->add_option("--model,-m", f->model, "text classifier checkpoint (cfx train text-classifier)");
  sub->add_option("--cvae", f->cvae, "text cvae checkpoint (cfx train text-cvae)");
  sub->add_option("--text", f->text, "a sentence to explain (repeatable)");
  sub->add_option("--texts", f->texts, "a file with one sentence per line, explained in batches");
  sub->add_option("--corpus", f->corpus,
                  "explain --n sentences of the grammar's train or test split");
  sub->add_option("--n", f->n, "sentences taken with --corpus");
  sub->add_option("--corpus-seed", f->corpus_seed, "seed of the grammar with --corpus");
  sub->add_option("--target", f->target, "class name or index, or auto (F's runner-up class)");
  sub->add_option("--optimise", f->optimise, "what moves: both (z and a), a, or z");
  sub->add_option("--steps", f->aip.search.steps, "most search steps per sentence");
  sub->add_option("--lr", f->aip.search.lr, "Adam learning rate on z");
  sub->add_option("--attribute-lr", f->aip.search.attribute_lr,
                  "per-step move of the attribute with the largest gradient");
  sub->add_option("--alpha", f->aip.search.alpha, "weight of ||z - z0||^2");
  sub->add_option("--beta", f->aip.search.beta, "weight of ||a - a0||_1");
  sub->add_option("--confidence", f->aip.search.confidence,
                  "stop once F decides the target with at least this probability");
  sub->add_option("--temperature", f->aip.temperature, "softmax temperature of the soft sentence");
  sub->add_option("--straight-through", f->aip.straight_through,
                  "F reads the argmax sentence in the search (true) or the soft one (false)");
  sub->add_option("--batch-size", f->aip.batch_size, "sentences optimised together");
  sub->add_option("--seed", f->aip.seed, "seed for repeatable runs");
  sub->add_option("--device", f->aip.device, "cpu or cuda");
  sub->add_option("--print", f->print_limit, "print at most this many sentences' explanations");
  sub->add_option("--out,-o", f->out, "folder for result.json");
  on_selected(sub, [f] { return explain_text_main(*f); });
}

}  // namespace cfx::cli
