#include "cfx/run/text_job.h"

#include <filesystem>
#include <sstream>

#include "cfx/config.h"
#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/surface.h"
#include "cfx/run/job_json.h"
#include "cfx/run/targets.h"
#include "cfx/text/corpus.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx {

namespace {

std::string shipped(const std::string& given, const char* name) {
  return given.empty() ? std::string(CFX_SOURCE_DIR) + "/models/" + name : given;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
  }
  CFX_CHECK(!lines.empty(), for_surface("--texts ", "texts_file "), path,
            " has no sentences (one per line)");
  return lines;
}

std::vector<std::string> gather_texts(const TextJob& j) {
  if (!j.texts.empty()) return j.texts;
  if (!j.texts_file.empty()) return read_lines(j.texts_file);
  TextCorpusOptions o;
  o.seed = j.corpus_seed;
  (j.corpus == "train" ? o.train_size : o.test_size) = j.n;
  return make_text_corpus(o, j.corpus).texts;
}

int64_t parse_target(const std::string& target, const TextClassifier& F) {
  if (target == "auto") return -1;
  const auto& names = F.class_names();
  auto t = parse_class(target, names);
  std::string known;
  for (const auto& c : names) known += (known.empty() ? "" : ", ") + c;
  CFX_CHECK(t && *t >= 0 && *t < F.num_classes(), option("target"), " '", target,
            "' is not a class of the text classifier (classes: ", known, "; or auto)");
  return *t;
}

}  // namespace

void TextJob::validate() const {
  CFX_CHECK(method == "aip", "unknown text method '", method, "'; known: aip");
  CFX_CHECK(optimise == "both" || optimise == "a" || optimise == "z", option("optimise"), " '",
            optimise, "' (use both, a or z)");
  const int given = !texts.empty() + !texts_file.empty() + !corpus.empty();
  CFX_CHECK(given == 1, for_surface("give exactly one of --text, --texts FILE or --corpus SPLIT",
                                    "give exactly one of texts, texts_file or corpus"));
  CFX_CHECK(corpus.empty() || n >= 1, option("n"), " ", n, " (use at least 1)");
  CFX_CHECK(!options.contains("optimise_z") && !options.contains("optimise_a"),
            "text aip options optimise_z and optimise_a are set by ", option("optimise"),
            " (both, a or z)");
  aip_options();
}

TextAipOptions TextJob::aip_options() const {
  TextAipOptions o = TextAipOptions::from_json(options);
  o.search.optimise_z = optimise != "a";
  o.search.optimise_a = optimise != "z";
  o.validate();
  return o;
}

json TextJob::to_json() const {
  return {{"method", method},
          {"model", model},
          {"cvae", cvae},
          {"texts", texts},
          {"texts_file", texts_file},
          {"corpus", corpus},
          {"n", n},
          {"corpus_seed", corpus_seed},
          {"target", target},
          {"optimise", optimise},
          {"options", options}};
}

TextJob TextJob::from_json(const json& j) {
  TextJob o;
  JobReader read(j, o.to_json(), "text job");
  read("method", o.method);
  read("model", o.model);
  read("cvae", o.cvae);
  read("texts", o.texts);
  read("texts_file", o.texts_file);
  read("corpus", o.corpus);
  read("n", o.n);
  read("corpus_seed", o.corpus_seed);
  read("target", o.target);
  read("optimise", o.optimise);
  read("options", o.options);
  CFX_CHECK(o.options.is_object(), "text job: options must be an object, got ", o.options.dump());
  o.validate();
  return o;
}

TextOutcome run_explain_text(const TextJob& job, const std::string& command,
                             const ProgressFn& progress) {
  job.validate();
  const auto o = job.aip_options();
  auto texts = gather_texts(job);
  const auto model = shipped(job.model, "text-classifier.pt");
  const auto cvae = shipped(job.cvae, "text-cvae.pt");
  auto F = TextClassifier::load(model);
  auto G = TextCvae::load(cvae);
  check_text_models(*F, *G);
  std::vector<int64_t> targets(texts.size(), parse_target(job.target, *F));
  TextOutcome out;
  out.result = explain_text_aip(*F, *G, texts, targets, o, progress);
  json config = {{"method", job.method}, {"model", model},           {"cvae", cvae},
                 {"target", job.target}, {"optimise", job.optimise}, {"options", o.to_json()},
                 {"command", command}};
  out.document = text_result_json(out.result, config);
  return out;
}

void write_explain_text(const TextOutcome& outcome, const std::string& dir) {
  ensure_writable_dir(dir);
  write_atomic((fs::path(dir) / "result.json").string(), outcome.document.dump(2) + "\n");
}

}  // namespace cfx
