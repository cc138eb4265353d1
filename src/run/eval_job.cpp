#include "cfx/run/eval_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/core/surface.h"
#include "cfx/core/threads.h"
#include "cfx/data/corrupt.h"
#include "cfx/data/dataset.h"
#include "cfx/data/inputs.h"
#include "cfx/eval/explain.h"
#include "cfx/eval/saliency_metrics.h"
#include "cfx/methods/registry.h"
#include "cfx/models/companions.h"
#include "cfx/report/html_report.h"
#include "cfx/report/result_json.h"
#include "cfx/run/job_json.h"
#include "cfx/run/targets.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx {

namespace {

// Options per method: "key": v for every method that has the option (an error if none has
// it), "method.key": v for one.
json per_method_options(const EvalJob& job) {
  json out = json::object();
  for (const auto& m : job.methods) out[m] = json::object();
  for (const auto& item : job.options.items()) {
    // Named, not a structured binding: C++17 lambdas cannot capture those (clang refuses).
    const std::string k = item.key();
    const json& v = item.value();
    auto dot = k.find('.');
    if (dot == std::string::npos) {
      std::string tried;
      for (const auto& m : job.methods) {
        if (method_info(m).make(json::object())->config()["options"].contains(k)) out[m][k] = v;
        tried += (tried.empty() ? "" : ", ") + m;
      }
      CFX_CHECK(std::any_of(job.methods.begin(), job.methods.end(),
                            [&](const std::string& m) { return out[m].contains(k); }),
                "unknown option '", k, "' for ", tried, " (see ",
                for_surface("`cfx methods --json`", "cfx.methods()"), ")");
    } else {
      std::string m = k.substr(0, dot);
      method_info(m);  // unknown method names fail here; a method not run ignores its options
      out[m][k.substr(dot + 1)] = v;
    }
  }
  return out;
}

// Real images of the items' split for the FID reference: up to `limit` items, skipping the
// queries.
Dataset fid_reference_images(const EvalItems& items, int64_t n_queries, int64_t limit,
                             const std::vector<int64_t>& shape) {
  DatasetOptions d;
  d.split = items.split;
  d.seed = items.data_seed;
  if (items.data == "shapes") d.shapes_size = shape[1];
  Dataset all = load_dataset(items.data, d);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < all.size() && static_cast<int64_t>(keep.size()) < limit; ++i)
    if (i < items.offset || i >= items.offset + n_queries) keep.push_back(i);
  return all.select(torch::tensor(keep, torch::kLong));
}

std::string cell(const json& summary, const std::string& key) {
  if (!summary.contains(key) || summary[key]["mean"].is_null()) return "-";
  char buf[48];
  const auto& m = summary[key];
  double mean = m["mean"].get<double>();
  if (m["hi"].is_null() || key == "seconds" || key == "prior_psnr" || key == "saliency_metric" ||
      key == "peak_mb_per_item")
    std::snprintf(buf, sizeof buf, "%.3g", mean);
  else if (m.contains("interval") ||
           std::abs(m["hi"].get<double>() + m["lo"].get<double>() - 2 * mean) > 1e-9)
    // Wilson and range-cut intervals are not symmetric: give both ends.
    std::snprintf(buf, sizeof buf, "%.2f [%.2f,%.2f]", mean, m["lo"].get<double>(),
                  m["hi"].get<double>());
  else
    std::snprintf(buf, sizeof buf, "%.3f±%.3f", mean, m["hi"].get<double>() - mean);
  return buf;
}

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
                          {"mnac_factors", "MNAC f."},
                          {"prior_psnr", "PSNR"},
                          {"seconds", "s/item"},
                          {"peak_mb_per_item", "MB/item"}};
const Columns kSaliencyColumns = {{"deletion_auc", "deletion"},  {"insertion_auc", "insertion"},
                                  {"pointing_game", "pointing"}, {"iou", "IoU"},
                                  {"loc_error", "loc err"},      {"saliency_metric", "SM"},
                                  {"saliency_area", "area"},     {"sanity_rank_corr", "sanity"},
                                  {"seconds", "s/item"},         {"peak_mb_per_item", "MB/item"}};

// Each method's result.json (in `dir`/<method>, or only in memory when `dir` is empty).
json method_document(const EvalOutcome& o, size_t k, const std::string& dir) {
  const auto& r = o.methods[k];
  auto per_item = r.per_item;
  per_item.insert(r.curves.begin(), r.curves.end());
  const auto& used = method_info(r.method).kind == "saliency" ? o.saliency_targets : o.targets;
  return write_explain_outputs(dir, *o.classifier, o.images, used, o.inputs, r.explanation, o.run,
                               per_item);
}

// The part of run_eval() that eval_batch_plans() shares: checks, the (corrupted) queries,
// their names and both kinds of targets.
EvalOutcome prepare(const EvalJob& job, const std::shared_ptr<Classifier>& F,
                    const EvalItems& items) {
  job.validate();
  CFX_CHECK(F != nullptr, "no classifier to evaluate");
  F->check_input(items.images);
  const int64_t n = items.images.size(0);
  CFX_CHECK(n > 0, "no images to evaluate on");
  CFX_CHECK(items.images.is_floating_point(), "images must be floating point in [0, 1], got ",
            items.images.scalar_type());
  CFX_CHECK(torch::isfinite(items.images).all().item<bool>(), "input images contain NaN values");

  EvalOutcome out;
  out.classifier = F;
  out.inputs = items.inputs;
  if (out.inputs.empty())
    for (int64_t i = 0; i < n; ++i) out.inputs.push_back("item " + std::to_string(i));
  CFX_CHECK(static_cast<int64_t>(out.inputs.size()) == n, "got ", out.inputs.size(),
            " input names for ", n, " images");
  out.images = corrupt_images(items.images.detach().cpu().to(torch::kFloat), job.corrupt, job.seed);
  out.targets = resolve_targets(job.targets, *F, out.images);
  // Saliency maps explain the decision: the predicted class unless a class was named.
  const bool auto_target = job.targets.size() == 1 && job.targets[0] == "auto";
  out.saliency_targets = auto_target ? F->predict_proba(out.images).argmax(1).cpu() : out.targets;
  return out;
}

}  // namespace

std::vector<EvalBatchPlan> eval_batch_plans(const EvalJob& job, std::shared_ptr<Classifier> F,
                                            const EvalItems& items) {
  CFX_CHECK(!job.batches_dir.empty(), "eval batch plans need the job's batches_dir");
  auto prepared = prepare(job, F, items);
  const json per_method = per_method_options(job);
  std::vector<EvalBatchPlan> plans;
  for (const auto& m : job.methods) {
    EvalBatchPlan p;
    p.method = m;
    p.options = per_method[m];
    p.images = prepared.images;
    p.targets = method_info(m).kind == "saliency" ? prepared.saliency_targets : prepared.targets;
    p.batches_dir = (fs::path(job.batches_dir) / m / "batches").string();
    Request req;
    req.classifier = F;
    req.images = p.images;
    req.targets = p.targets.cpu().to(torch::kLong);
    req.seed = job.seed;
    req.device = parse_device(job.device);
    p.settings = batch_settings(*method_info(m).make(p.options), req, job.batch_size);
    plans.push_back(std::move(p));
  }
  return plans;
}

void EvalJob::validate() const {
  CFX_CHECK(!methods.empty(), "eval job methods is empty (name at least one; see ",
            for_surface("`cfx methods`", "cfx.methods()"), ")");
  CFX_CHECK(options.is_object(), "eval job options = ", options.dump(),
            " (must be a JSON object of method options)");
  json per_method = per_method_options(*this);
  for (const auto& m : methods)  // bad names and options fail before any work
    method_info(m).make(per_method[m]);
  CFX_CHECK(!targets.empty(), "eval job targets is empty (use \"auto\" or one per item)");
  CFX_CHECK(batch_size >= 1 && batch_size <= 100000, "eval job batch_size = ", batch_size,
            " (use 1 to 100000)");
  CFX_CHECK(batch_workers >= 0 && batch_workers <= 1024, "eval job batch_workers = ", batch_workers,
            " (use 0 for one per thread, or 1 to 1024)");
  CFX_CHECK(curve_steps >= 1 && curve_steps <= 10000, "eval job curve_steps = ", curve_steps,
            " (use 1 to 10000)");
  CFX_CHECK(cout_steps >= 0 && cout_steps <= 10000, "eval job cout_steps = ", cout_steps,
            " (0..10000; 0 turns COUT off)");
  CFX_CHECK(fid_reference >= 2, "eval job fid_reference = ", fid_reference,
            " (at least 2 real images)");
  CFX_CHECK(surrogate >= 0, "eval job surrogate = ", surrogate, " (0 turns it off)");
  CFX_CHECK(!resume || !batches_dir.empty(),
            "eval job resume = true needs batches_dir (where the earlier run kept them)");
  parse_device(device);
}

json EvalJob::to_json() const {
  return {{"methods", methods},
          {"options", options},
          {"targets", targets},
          {"seed", seed},
          {"batch_size", batch_size},
          {"batch_workers", batch_workers},
          {"device", device},
          {"corrupt", corrupt},
          {"oracle", oracle},
          {"autoencoders", autoencoders},
          {"attributes", attributes},
          {"fid_net", fid_net},
          {"fid_reference", fid_reference},
          {"surrogate", surrogate},
          {"sanity", sanity},
          {"curve_steps", curve_steps},
          {"cout_steps", cout_steps},
          {"batches_dir", batches_dir},
          {"resume", resume}};
}

EvalJob EvalJob::from_json(const json& j) {
  EvalJob o;
  JobReader read(j, o.to_json(), "eval job");
  read("methods", o.methods);
  read("options", o.options);
  read("targets", o.targets);
  read("seed", o.seed);
  read("batch_size", o.batch_size);
  read("batch_workers", o.batch_workers);
  read("device", o.device);
  read("corrupt", o.corrupt);
  read("oracle", o.oracle);
  read("autoencoders", o.autoencoders);
  read("attributes", o.attributes);
  read("fid_net", o.fid_net);
  read("fid_reference", o.fid_reference);
  read("surrogate", o.surrogate);
  read("sanity", o.sanity);
  read("curve_steps", o.curve_steps);
  read("cout_steps", o.cout_steps);
  read("batches_dir", o.batches_dir);
  read("resume", o.resume);
  o.validate();
  return o;
}

EvalOutcome run_eval(const EvalJob& job, std::shared_ptr<Classifier> F, const EvalItems& items,
                     const std::function<std::shared_ptr<Classifier>()>& fresh_copy, json run_info,
                     const EvalProgressFn& progress) {
  auto out = prepare(job, F, items);
  const json per_method = per_method_options(job);
  auto device = parse_device(job.device);
  const int64_t n = out.images.size(0);

  EvalOptions eo;
  eo.methods = job.methods;
  eo.method_options = per_method;
  eo.batch_size = job.batch_size;
  eo.batch_workers = job.batch_workers;
  eo.surrogate_seed = job.seed;
  eo.curve_steps = job.curve_steps;
  eo.cout_steps = job.cout_steps;
  eo.batch_root = job.batches_dir;
  eo.resume = job.resume;
  eo.morphometry = items.data == "mnist";  // digits: how much thickness, slant, ... changed
  eo.saliency_targets = out.saliency_targets;
  if (items.masks.defined()) eo.masks = items.masks;
  if (job.sanity) {
    CFX_CHECK(fresh_copy, "the sanity check needs a second copy of the model to randomise");
    eo.randomized = fresh_copy();
    randomize_weights(*eo.randomized, job.seed + 1);
  }
  if (!job.oracle.empty()) {
    eo.oracle = load_classifier(job.oracle);
    CFX_CHECK(eo.oracle->input_shape() == F->input_shape() &&
                  eo.oracle->num_classes() == F->num_classes(),
              "oracle ", job.oracle, " does not match the model's input shape and classes");
  }
  if (!job.autoencoders.empty()) {
    eo.autoencoders =
        std::make_shared<ClassAutoencoders>(ClassAutoencoders::load(job.autoencoders));
    CFX_CHECK(eo.autoencoders->num_classes() == F->num_classes(), "autoencoders ", job.autoencoders,
              " know ", eo.autoencoders->num_classes(), " classes, the model ", F->num_classes());
  }
  const std::string attributes_path = find_companion(job.attributes, F.get(), "attributes");
  if (!attributes_path.empty()) {
    eo.attributes = load_attribute_classifier(attributes_path);
    CFX_CHECK(eo.attributes->net().input_shape() == F->input_shape(), "attribute oracle ",
              attributes_path, " takes images of another shape than the model");
  }
  // FID compares with real images, so by default only items of a dataset get it.
  const std::string fid_path =
      job.fid_net.empty() && items.data.empty()
          ? ""
          : find_companion(job.fid_net, F.get(), "oracle-resnet", items.data);
  int64_t fid_reference_n = 0;
  if (!fid_path.empty()) {
    CFX_CHECK(!items.data.empty(),
              "FID needs items of a dataset (its real images are the reference); "
              "turn it off (fid_net none) for image files");
    eo.fid_network = load_classifier(fid_path);
    CFX_CHECK(eo.fid_network->input_shape() == F->input_shape(), "FID network ", fid_path,
              " does not take the model's input shape");
    Dataset ref = fid_reference_images(items, n, job.fid_reference, F->input_shape());
    CFX_CHECK(ref.size() >= 2 && ref.images.sizes().slice(1).equals(out.images.sizes().slice(1)),
              "FID: ", items.data,
              " has too few real images at the model's input shape; turn FID off (fid_net none)");
    eo.fid_reference = fid_class_stats(*eo.fid_network, ref.images, ref.labels, F->num_classes());
    fid_reference_n = ref.size();
  }
  if (job.surrogate > 0) {
    CFX_CHECK(!items.data.empty(),
              "surrogate agreement needs items of a dataset (held-out items come from it)");
    InputOptions h;
    h.data = items.data;
    h.split = items.split;
    h.seed = items.data_seed;
    h.offset = items.offset + n;
    h.n = job.surrogate;
    eo.surrogate_heldout = load_inputs(h, F->input_shape()).images;
  }

  Request req;
  req.classifier = F;
  req.images = out.images;
  req.targets = out.targets;
  req.seed = job.seed;
  req.device = device;
  const std::string target_text =
      job.targets.size() == 1 ? job.targets[0] : std::string("per item");
  if (!run_info.contains("command")) run_info["command"] = "eval";
  run_info["target"] = target_text;
  run_info["corrupt"] = job.corrupt;
  run_info["inputs"] = n;
  run_info["threads"] = threads();
  for (const auto& m : job.methods) {
    const int64_t total = n * kProgressUnit;
    req.progress = [&](int64_t done, int64_t, int64_t) {
      if (progress) progress(m, done, total);
    };
    EvalOptions one = eo;
    one.methods = {m};
    auto r = evaluate(req, one);
    if (progress) progress(m, total, total);
    if (r.front().explanation.resumed_batches > 0)
      notice(m + ": resumed " + std::to_string(r.front().explanation.resumed_batches) +
             " finished batch(es) from " + job.batches_dir + "/" + m + "/batches");
    out.methods.push_back(std::move(r.front()));
  }

  json doc = {{"schema", "cfx.eval"},
              {"schema_version", 1},
              {"invocation", run_info.value("invocation", "")},
              {"model", F->info().source},
              {"oracle", job.oracle},
              {"autoencoders", job.autoencoders},
              {"corrupt", job.corrupt},
              {"items", n},
              {"seed", job.seed},
              {"fid_network", fid_path},
              {"attribute_oracle", attributes_path},
              {"fid_reference_items", fid_reference_n},
              {"methods", json::array()}};
  for (const auto& r : out.methods)
    doc["methods"].push_back({{"method", r.method},
                              {"kind", method_info(r.method).kind},
                              {"config", r.explanation.config},
                              {"batch_workers", r.explanation.workers},
                              {"summary", r.summary}});
  out.document = std::move(doc);
  out.run = std::move(run_info);
  for (size_t k = 0; k < out.methods.size(); ++k)
    out.documents.push_back(method_document(out, k, ""));
  return out;
}

void write_eval(const EvalOutcome& o, const std::string& dir) {
  CFX_CHECK(o.classifier != nullptr, "an eval outcome without its classifier cannot be written");
  ensure_writable_dir(dir);
  std::vector<ReportRun> runs;
  for (size_t k = 0; k < o.methods.size(); ++k) {
    std::string mdir = (fs::path(dir) / o.methods[k].method).string();
    auto mdoc = method_document(o, k, mdir);
    write_html_report(mdir, mdoc);
    runs.push_back({o.methods[k].method, mdir, std::move(mdoc)});
  }
  write_atomic((fs::path(dir) / "eval.json").string(), o.document.dump(2) + "\n");
  write_atomic((fs::path(dir) / "eval.csv").string(), eval_csv(o.document));
  write_eval_html_report(dir, o.document, runs);
}

std::string eval_csv(const json& doc) {
  std::ostringstream csv;
  csv << "method,metric,mean,lo,hi,n\n";
  auto num = [](const json& x) { return x.is_null() ? std::string() : x.dump(); };
  for (const auto& r : doc.at("methods"))
    for (const auto& [k, v] : r.at("summary").items()) {
      const std::string method = r.at("method").get<std::string>();
      if (v.is_object())
        csv << method << "," << k << "," << num(v["mean"]) << "," << num(v["lo"]) << ","
            << num(v["hi"]) << "," << num(v["n"]) << "\n";
      else
        csv << method << "," << k << "," << v.dump() << ",,,\n";
    }
  return csv.str();
}

std::string eval_table(const json& doc) {
  std::string out;
  char buf[256];
  for (const auto& [kind, cols] :
       {std::pair<std::string, const Columns*>{"counterfactual", &kColumns},
        {"saliency", &kSaliencyColumns}}) {
    bool header = false;
    for (const auto& r : doc.at("methods")) {
      if (r.at("kind") != kind) continue;
      if (!header) {
        std::snprintf(buf, sizeof buf, "%-10s", "method");
        out += buf;
        for (const auto& c : *cols) {
          std::snprintf(buf, sizeof buf, " %16s", c.second.c_str());
          out += buf;
        }
        out += "\n";
        header = true;
      }
      const auto& summary = r.at("summary");
      std::snprintf(buf, sizeof buf, "%-10s", r.at("method").get<std::string>().c_str());
      out += buf;
      for (const auto& c : *cols) {
        std::snprintf(buf, sizeof buf, " %16s", cell(summary, c.first).c_str());
        out += buf;
      }
      out += "\n";
      if (summary.contains("surrogate_agreement_queries")) {
        std::snprintf(buf, sizeof buf,
                      "           surrogate agreement with F: queries only %.3f, with "
                      "counterfactuals %.3f\n",
                      summary["surrogate_agreement_queries"].get<double>(),
                      summary["surrogate_agreement_with_counterfactuals"].get<double>());
        out += buf;
      }
    }
  }
  return out;
}

}  // namespace cfx
