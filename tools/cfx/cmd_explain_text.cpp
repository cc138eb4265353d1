// `cfx explain-text --method aip`: counterfactual sentences in attribute words (METHODS.md §4).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/progress.h"
#include "cfx/run/text_job.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;

namespace cfx::cli {

namespace {

struct ExplainTextFlags {
  TextJob job;
  std::string out;
  int64_t print_limit = 20;
  TextAipOptions aip;  // the search flags; job.options takes them
};

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
  if (!f.out.empty()) ensure_writable_dir(f.out);
  TextJob job = f.job;
  job.options = f.aip.to_json();
  job.options.erase("optimise_z");  // set by --optimise
  job.options.erase("optimise_a");
  job.validate();
  ProgressBar bar("aip", job.aip_options().search.steps);
  auto outcome = run_explain_text(job, invocation(),
                                  [&](int64_t step, int64_t, int64_t) { bar.update(step); });
  bar.finish();
  const auto& r = outcome.result;
  for (size_t i = 0; i < r.items.size() && static_cast<int64_t>(i) < f.print_limit; ++i)
    print_item(i, r.items[i], r);
  const auto& s = outcome.document["summary"];
  std::cout << "valid " << s["valid"].get<double>() << "/" << r.items.size()
            << ", mean tokens changed (valid) " << fmt(s["mean_tokens_changed_valid"].get<double>())
            << ", " << fmt(s["seconds_per_item"].get<double>() * 1000) << " ms per sentence\n";
  if (!f.out.empty()) {
    write_explain_text(outcome, f.out);
    std::cout << "wrote " << (fs::path(f.out) / "result.json").string() << "\n";
  }
  return 0;
}

}  // namespace

void add_explain_text_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "explain-text", "counterfactual sentences for the text classifier (AIP, METHODS.md §4)");
  auto f = std::make_shared<ExplainTextFlags>();
  sub->add_option("--method", f->job.method, "text method: aip");
  sub->add_option(
      "--model,-m", f->job.model,
      "text classifier checkpoint (cfx train text-classifier; default: the shipped one)");
  sub->add_option("--cvae", f->job.cvae,
                  "text cvae checkpoint (cfx train text-cvae; default: the shipped one)");
  sub->add_option("--text", f->job.texts, "a sentence to explain (repeatable)");
  sub->add_option("--texts", f->job.texts_file,
                  "a file with one sentence per line, explained in batches");
  sub->add_option("--corpus", f->job.corpus,
                  "explain --n sentences of the grammar's train or test split");
  sub->add_option("--n", f->job.n, "sentences taken with --corpus");
  sub->add_option("--corpus-seed", f->job.corpus_seed, "seed of the grammar with --corpus");
  sub->add_option("--target", f->job.target, "class name or index, or auto (F's runner-up class)");
  sub->add_option("--optimise", f->job.optimise, "what moves: both (z and a), a, or z");
  sub->add_option("--steps", f->aip.search.steps, "most search steps per sentence");
  sub->add_option("--lr", f->aip.search.lr, "Adam learning rate on z");
  sub->add_option("--attribute-lr", f->aip.search.attribute_lr,
                  "per-step move of the attribute with the largest gradient");
  sub->add_option("--attribute-step", f->aip.search.attribute_step,
                  "how the attributes move: gradient (proximal) or greedy (whole-edit probes)");
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
