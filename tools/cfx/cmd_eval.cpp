// `cfx eval`: every method on the same items and targets, scored with the field's metrics.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/core/progress.h"
#include "cfx/core/threads.h"
#include "cfx/data/corrupt.h"
#include "cfx/eval/evaluate.h"
#include "cfx/eval/saliency_metrics.h"
#include "cfx/methods/registry.h"
#include "cfx/report/html_report.h"
#include "cfx/report/result_json.h"
#include "cfx/run/targets.h"
#include "commands.h"
#include "common.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx::cli {

namespace {

struct EvalFlags {
  ModelFlags model;
  InputOptions input;
  std::string methods = "pixel";
  std::string target = "auto";
  std::string out = "out/eval";
  uint64_t seed = 0;
  std::string device = "cpu";
  int64_t batch_size = 64;
  std::vector<std::string> sets;
  std::string oracle;
  std::string autoencoders;
  std::string corrupt = "none";
  int64_t surrogate = 0;
  bool sanity = false;
  int64_t curve_steps = 28;
  int64_t cout_steps = 50;
  std::string attributes;  // MNAC oracle; "": <dataset>-attributes.pt beside the model; "none"
  std::string fid_net;     // "": <dataset>-oracle-resnet.pt beside the model if present; "none"
  int64_t fid_reference = 2000;
  bool resume = false;
};

using Columns = std::vector<std::pair<std::string, std::string>>;

// The metrics of the printed tables, in order, with their column titles.
const Columns kColumns = {{"validity", "valid"},
                          {"oracle_validity", "oracle"},
                          {"target_prob", "p_t"},
                          {"l1", "L1"},
                          {"l0", "L0"},
                          {"im1", "IM1"},
                          {"im2", "IM2"},
                          {"cout", "COUT"},
                          {"fid", "FID"},
                          {"mnac", "MNAC"},
                          {"prior_psnr", "PSNR"},
                          {"seconds", "s/item"},
                          {"peak_mb_per_item", "MB/item"}};
const Columns kSaliencyColumns = {{"deletion_auc", "deletion"},   {"insertion_auc", "insertion"},
                                  {"pointing_game", "pointing"},  {"iou", "IoU"},
                                  {"saliency_metric", "SM"},      {"saliency_area", "area"},
                                  {"sanity_rank_corr", "sanity"}, {"seconds", "s/item"},
                                  {"peak_mb_per_item", "MB/item"}};

std::string cell(const json& summary, const std::string& key) {
  if (!summary.contains(key) || summary[key]["mean"].is_null()) return "-";
  char buf[48];
  const auto& m = summary[key];
  double mean = m["mean"].get<double>();
  if (m["hi"].is_null() || key == "seconds" || key == "prior_psnr" || key == "saliency_metric" ||
      key == "peak_mb_per_item")
    std::snprintf(buf, sizeof buf, "%.3g", mean);
  else
    std::snprintf(buf, sizeof buf, "%.3f±%.3f", mean, m["hi"].get<double>() - mean);
  return buf;
}

// The FID network: --fid-net, else with --data D the file D-oracle-resnet.pt beside the model
// (an independently trained classifier of the same data) if it exists, else none ("").
// The attribute oracle for MNAC: --attributes, else the shipped one of the model's dataset.
std::string find_attribute_oracle(const EvalFlags& f, const Classifier& F) {
  if (f.attributes == "none") return "";
  if (!f.attributes.empty()) return f.attributes;
  if (F.info().dataset.empty() || F.info().source.empty()) return "";
  auto candidate = fs::path(F.info().source).parent_path() / (F.info().dataset + "-attributes.pt");
  return is_file(candidate.string()) ? candidate.string() : "";
}

std::string find_fid_network(const EvalFlags& f, const Classifier& F) {
  if (f.fid_net == "none") return "";
  if (!f.fid_net.empty()) return f.fid_net;
  if (f.input.data.empty()) return "";  // no labelled real images to compare with
  auto candidate = fs::path(F.info().source).parent_path() / (f.input.data + "-oracle-resnet.pt");
  return is_file(candidate.string()) ? candidate.string() : "";
}

// Real images of --data's split for the FID reference: up to `limit` items, skipping the
// queries when they come from the same split.
Dataset fid_reference_images(const EvalFlags& f, const std::vector<int64_t>& shape) {
  DatasetOptions d;
  d.split = f.input.split;
  d.seed = f.seed;
  if (f.input.data == "shapes") d.shapes_size = shape[1];
  Dataset all = load_dataset(f.input.data, d);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < all.size() && static_cast<int64_t>(keep.size()) < f.fid_reference; ++i)
    if (i < f.input.offset || i >= f.input.offset + f.input.n) keep.push_back(i);
  return all.select(torch::tensor(keep, torch::kLong));
}

int eval_main(const EvalFlags& f) {
  ensure_writable_dir(f.out);
  auto method_names = split_list(f.methods);
  CFX_CHECK(!method_names.empty(), "--methods is empty");
  // Options: "key=value" for every method, "method.key=value" for one.
  json per_method = json::object();
  const json sets = parse_sets(f.sets);
  for (const auto& [k, v] : sets.items()) {
    auto dot = k.find('.');
    if (dot == std::string::npos) {
      for (const auto& m : method_names) per_method[m][k] = v;
    } else {
      std::string m = k.substr(0, dot);
      method_info(m);  // unknown method names fail here
      per_method[m][k.substr(dot + 1)] = v;
    }
  }
  for (const auto& m : method_names)  // bad names and options fail before any work
    make_method(m, per_method.contains(m) ? per_method[m] : json::object());
  auto device = parse_device(f.device);

  InputOptions in_opt = f.input;
  in_opt.seed = f.seed;
  auto F = f.model.load(&in_opt);  // a model that states no input shape takes the images'
  Inputs in = load_inputs(in_opt, F->input_shape());
  auto images = corrupt_images(in.images, f.corrupt, f.seed);
  auto targets = resolve_targets({f.target}, *F, images);
  CFX_CHECK(f.curve_steps >= 1 && f.curve_steps <= 10000, "invalid --curve-steps: ", f.curve_steps);
  CFX_CHECK(f.cout_steps >= 0 && f.cout_steps <= 10000, "invalid --cout-steps: ", f.cout_steps,
            " (0..10000; 0 turns COUT off)");
  CFX_CHECK(f.fid_reference >= 2, "invalid --fid-reference: ", f.fid_reference,
            " (at least 2 real images)");

  EvalOptions eo;
  eo.methods = method_names;
  eo.method_options = per_method;
  eo.batch_size = f.batch_size;
  eo.surrogate_seed = f.seed;
  eo.curve_steps = f.curve_steps;
  eo.cout_steps = f.cout_steps;
  eo.batch_root = f.out;
  eo.resume = f.resume;
  // Digits: how much each morphometric attribute (thickness, slant, ...) changed.
  eo.morphometry = f.input.data == "mnist";
  // Saliency maps explain the decision: the predicted class unless a class was named.
  // Computed once here, not per saliency method by evaluate() and again for result.json.
  eo.saliency_targets = f.target != "auto" ? targets : F->predict_proba(images).argmax(1);
  if (in.masks.defined()) eo.masks = in.masks;
  if (f.sanity) {
    eo.randomized = f.model.load();
    randomize_weights(*eo.randomized, f.seed + 1);
  }
  if (!f.oracle.empty()) {
    eo.oracle = load_classifier(f.oracle);
    CFX_CHECK(eo.oracle->input_shape() == F->input_shape() &&
                  eo.oracle->num_classes() == F->num_classes(),
              "--oracle ", f.oracle, " does not match the model's input shape and classes");
  }
  if (!f.autoencoders.empty()) {
    eo.autoencoders = std::make_shared<ClassAutoencoders>(ClassAutoencoders::load(f.autoencoders));
    CFX_CHECK(eo.autoencoders->num_classes() == F->num_classes(), "--autoencoders ", f.autoencoders,
              " know ", eo.autoencoders->num_classes(), " classes, the model ", F->num_classes());
  }
  const std::string attributes_path = find_attribute_oracle(f, *F);
  if (!attributes_path.empty()) {
    eo.attributes = load_attribute_classifier(attributes_path);
    CFX_CHECK(eo.attributes->net().input_shape() == F->input_shape(), "--attributes ",
              attributes_path, " takes images of another shape than the model");
  }
  const std::string fid_path = find_fid_network(f, *F);
  int64_t fid_reference_n = 0;
  if (!fid_path.empty()) {
    CFX_CHECK(!f.input.data.empty(),
              "FID needs --data (its real images are the reference); "
              "use --fid-net none with --image/--images");
    eo.fid_network = load_classifier(fid_path);
    CFX_CHECK(eo.fid_network->input_shape() == F->input_shape(), "--fid-net ", fid_path,
              " does not take the model's input shape");
    Dataset ref = fid_reference_images(f, F->input_shape());
    CFX_CHECK(ref.size() >= 2 && ref.images.sizes().slice(1).equals(images.sizes().slice(1)),
              "FID: ", f.input.data,
              " has too few real images at the model's input shape; "
              "use --fid-net none");
    eo.fid_reference = fid_class_stats(*eo.fid_network, ref.images, ref.labels, F->num_classes());
    fid_reference_n = ref.size();
  }
  if (f.surrogate > 0) {
    CFX_CHECK(!f.input.data.empty(), "--surrogate needs --data (held-out items come from it)");
    InputOptions h = in_opt;
    h.offset = f.input.offset + images.size(0);
    h.n = f.surrogate;
    eo.surrogate_heldout = load_inputs(h, F->input_shape()).images;
  }

  Request req;
  req.classifier = F;
  req.images = images;
  req.targets = targets;
  req.seed = f.seed;
  req.device = device;
  const int64_t n = images.size(0);
  std::unique_ptr<ProgressBar> bar;
  req.progress = [&](int64_t done, int64_t, int64_t) {
    if (bar) bar->update(done);
  };
  std::vector<MethodEvaluation> results;
  std::vector<ReportRun> report_runs;
  for (const auto& m : method_names) {
    bar = std::make_unique<ProgressBar>(m, n * kProgressUnit, kProgressUnit);
    EvalOptions one = eo;
    one.methods = {m};
    auto r = evaluate(req, one);
    bar->finish();
    if (r.front().explanation.resumed_batches > 0)
      notice(m + ": resumed " + std::to_string(r.front().explanation.resumed_batches) +
             " finished batch(es) from " + f.out + "/" + m + "/batches");
    json run = {{"command", "eval"},  {"invocation", invocation()},
                {"target", f.target}, {"corrupt", f.corrupt},
                {"inputs", n},        {"threads", threads()}};
    auto per_item = r.front().per_item;
    per_item.insert(r.front().curves.begin(), r.front().curves.end());
    const auto& used = method_info(m).kind == "saliency" ? eo.saliency_targets : targets;
    std::string dir = (fs::path(f.out) / m).string();
    auto mdoc = write_explain_outputs(dir, *F, images, used, in.sources, r.front().explanation, run,
                                      per_item);
    write_html_report(dir, mdoc);
    report_runs.push_back({m, dir, std::move(mdoc)});
    results.push_back(std::move(r.front()));
  }

  // eval.json, eval.csv and the table.
  json doc = {{"schema", "cfx.eval"},
              {"schema_version", 1},
              {"invocation", invocation()},
              {"model", F->info().source},
              {"oracle", f.oracle},
              {"autoencoders", f.autoencoders},
              {"corrupt", f.corrupt},
              {"items", n},
              {"seed", f.seed},
              {"fid_network", fid_path},
              {"attribute_oracle", attributes_path},
              {"fid_reference_items", fid_reference_n},
              {"methods", json::array()}};
  std::ostringstream csv;
  csv << "method,metric,mean,lo,hi,n\n";
  for (const auto& r : results) {
    doc["methods"].push_back({{"method", r.method},
                              {"kind", method_info(r.method).kind},
                              {"config", r.explanation.config},
                              {"summary", r.summary}});
    for (const auto& [k, v] : r.summary.items()) {
      auto num = [](const json& x) { return x.is_null() ? std::string() : x.dump(); };
      if (v.is_object())
        csv << r.method << "," << k << "," << num(v["mean"]) << "," << num(v["lo"]) << ","
            << num(v["hi"]) << "," << num(v["n"]) << "\n";
      else
        csv << r.method << "," << k << "," << v.dump() << ",,,\n";
    }
  }
  // One table per kind of method present: counterfactual metrics, then saliency metrics.
  for (const auto& [kind, cols] :
       {std::pair<std::string, const Columns*>{"counterfactual", &kColumns},
        {"saliency", &kSaliencyColumns}}) {
    bool header = false;
    for (const auto& r : results) {
      if (method_info(r.method).kind != kind) continue;
      if (!header) {
        std::printf("%-10s", "method");
        for (const auto& c : *cols) std::printf(" %13s", c.second.c_str());
        std::printf("\n");
        header = true;
      }
      std::printf("%-10s", r.method.c_str());
      for (const auto& c : *cols) std::printf(" %13s", cell(r.summary, c.first).c_str());
      std::printf("\n");
      if (r.summary.contains("surrogate_agreement_queries"))
        std::printf(
            "           surrogate agreement with F: queries only %.3f, with counterfactuals "
            "%.3f\n",
            r.summary["surrogate_agreement_queries"].get<double>(),
            r.summary["surrogate_agreement_with_counterfactuals"].get<double>());
    }
  }
  write_atomic((fs::path(f.out) / "eval.json").string(), doc.dump(2) + "\n");
  write_atomic((fs::path(f.out) / "eval.csv").string(), csv.str());
  write_eval_html_report(f.out, doc, report_runs);
  std::printf("wrote %s/eval.json, eval.csv and one result folder per method\n", f.out.c_str());
  std::printf("wrote %s/report.html\n", f.out.c_str());
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* sub = app.add_subcommand("eval", "run methods on the same items and score them");
  auto f = std::make_shared<EvalFlags>();
  f->model.add(sub);
  add_input_flags(sub, f->input);
  sub->add_option("--methods", f->methods, "comma-separated method names (see `cfx methods`)");
  sub->add_option("--target,-t", f->target,
                  "target class: auto (runner-up class), an index, or a class name");
  sub->add_option("--out,-o", f->out, "output folder");
  sub->add_option("--seed", f->seed, "random seed");
  sub->add_option("--device", f->device, "cpu, cuda or cuda:<i>");
  sub->add_option("--batch-size", f->batch_size, "items optimised together");
  sub->add_option("--set", f->sets,
                  "method option key=value for every method, or method.key=value for one");
  sub->add_option("--oracle", f->oracle, "independent classifier for oracle validity");
  sub->add_option("--autoencoders", f->autoencoders,
                  "class-conditional autoencoders for IM1/IM2 (cfx train autoencoder)");
  sub->add_option("--corrupt", f->corrupt,
                  "corrupt the queries first: noise:σ, blur:σ, contrast:f or none");
  sub->add_option("--surrogate", f->surrogate,
                  "train surrogates on queries (+ counterfactuals) and test their agreement "
                  "with the model on this many held-out items (0: off)");
  sub->add_flag("--sanity", f->sanity,
                "saliency methods: also run on a weight-randomised copy of the model and report "
                "the rank correlation of the maps (sanity_rank_corr; low = the map depends on "
                "the weights)");
  sub->add_option("--curve-steps", f->curve_steps,
                  "saliency methods: steps of the deletion and insertion curves");
  sub->add_option("--cout-steps", f->cout_steps,
                  "counterfactual methods: steps of the COUT path from x to the counterfactual "
                  "(0: no COUT)");
  sub->add_option("--attributes", f->attributes,
                  "attribute oracle for MNAC (attributes that flip); default: "
                  "<dataset>-attributes.pt beside the model if present; none: off");
  sub->add_option("--fid-net", f->fid_net,
                  "feature network for FID (default: <dataset>-oracle-resnet.pt beside the "
                  "model if present; none: no FID)");
  sub->add_option("--fid-reference", f->fid_reference,
                  "FID: at most this many real images of --data's split (queries excluded)");
  sub->add_flag("--resume", f->resume,
                "keep finished batches from an earlier run of the same command into --out "
                "(killed or not) and run only the rest");
  on_selected(sub, [f] { return eval_main(*f); });
}

}  // namespace cfx::cli
