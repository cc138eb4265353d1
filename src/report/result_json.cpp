#include "cfx/report/result_json.h"

#include <cstdio>
#include <filesystem>

#include "cfx/config.h"
#include "cfx/core/fs.h"
#include "cfx/core/tensor.h"
#include "cfx/data/image_io.h"
#include "cfx/eval/evaluate.h"
#include "cfx/methods/aip/aip.h"
#include "cfx/methods/latent/latent.h"
#include "cfx/report/images.h"
#include "cfx/report/npy.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace cfx {

namespace {

std::string class_name(const Classifier& F, int64_t c) {
  const auto& names = F.class_names();
  return c >= 0 && c < static_cast<int64_t>(names.size()) ? names[c] : std::to_string(c);
}

// Files of an item, skipped when the caller wants only the document (out_dir empty).
void png_to(const std::string& out_dir, const std::string& rel, const torch::Tensor& image) {
  if (!out_dir.empty()) write_png((fs::path(out_dir) / rel).string(), image);
}

double mean_of(const torch::Tensor& t) {
  return t.numel() ? t.to(torch::kDouble).mean().item<double>() : 0.0;
}

// The attribute edits of item i: a strip (x, G(w0), then edit 1..K) and one entry per edit.
void write_edits(const std::string& out_dir, const char* stem, const Classifier& F,
                 const torch::Tensor& x, const Result& r, int64_t i, json& item) {
  const auto& e = r.edits;
  std::vector<torch::Tensor> strip{x, r.reconstruction.defined() ? r.reconstruction[i] : x};
  std::string legend = "x, G(w0)";
  json list = json::array();
  for (int64_t k = 0; k < e.images.size(1); ++k) {
    strip.push_back(e.images[i][k]);
    const bool on = e.direction[i][k].item<int64_t>() > 0;
    const std::string& name = e.names.at(static_cast<size_t>(k));
    legend += std::string(", ") + (on ? "+" : "-") + name;
    int64_t cls = e.classes[i][k].item<int64_t>();
    list.push_back({{"attribute", name},
                    {"edit", on ? "on" : "off"},
                    {"attribute_prob_before", e.before[i][k].item<double>()},
                    {"attribute_prob_after", e.after[i][k].item<double>()},
                    {"class", cls},
                    {"class_name", class_name(F, cls)},
                    {"target_prob", e.target_prob[i][k].item<double>()}});
  }
  std::string png = std::string(stem) + "edits.png";
  png_to(out_dir, png, image_strip(strip));
  int64_t base = e.base_class[i].item<int64_t>();
  item["edits"] = png;
  item["edits_legend"] = legend;
  item["reconstruction_class"] = base;
  item["reconstruction_class_name"] = class_name(F, base);
  item["reconstruction_target_prob"] = e.base_target_prob[i].item<double>();
  item["chosen_edit"] = e.names.at(static_cast<size_t>(e.chosen[i].item<int64_t>()));
  item["attribute_edits"] = list;
  // How the counterfactual reached the target, and the request it was rendered from.
  if (e.route.defined()) item["route"] = latent_route_name(e.route[i].item<int64_t>());
  if (e.request.defined()) {
    auto req = e.request[i];
    item["request"] = to_vector<float>(req.contiguous());
    item["request_summary"] =
        (req.abs() < 0.05).all().item<bool>()
            ? std::string("nothing requested")
            : describe_attribute_changes(e.names, torch::zeros_like(req), req, 0.05);
  }
}

// AIP: every attribute before and after (the code a* and what D reads in x̄), largest change
// of the code first, the same in words, and F's decision on the reconstruction.
void write_attribute_shift(const Classifier& F, const AttributeShift& a, int64_t target, int64_t i,
                           json& item) {
  auto before = a.before[i], after = a.after[i];
  std::vector<int64_t> order(a.names.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int64_t>(k);
  auto change = (after - before).abs();
  std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
    return change[p].item<double>() > change[q].item<double>();
  });
  json list = json::array();
  for (int64_t k : order)
    list.push_back({{"attribute", a.names.at(static_cast<size_t>(k))},
                    {"before", before[k].item<double>()},
                    {"after", after[k].item<double>()},
                    {"change", (after[k] - before[k]).item<double>()},
                    {"read", a.read.defined() ? json(a.read[i][k].item<double>()) : json()}});
  item["attribute_changes"] = list;
  item["attribute_summary"] = describe_attribute_changes(a.names, before, after);
  if (a.read.defined())
    item["attribute_summary_read"] = describe_attribute_changes(a.names, before, a.read[i]);
  if (a.base_class.defined()) {
    int64_t base = a.base_class[i].item<int64_t>();
    item["reconstruction_class"] = base;
    item["reconstruction_class_name"] = class_name(F, base);
    item["reconstruction_target_prob"] = a.base_target_prob[i].item<double>();
    item["reconstruction_already_target"] = base == target;
  }
}

}  // namespace

json write_explain_outputs(const std::string& out_dir, const Classifier& F,
                           const torch::Tensor& images, const torch::Tensor& targets,
                           const std::vector<std::string>& inputs, const Explanation& e,
                           const json& run_info,
                           const std::map<std::string, torch::Tensor>& per_item) {
  if (!out_dir.empty()) {
    ensure_writable_dir(out_dir);
    ensure_writable_dir((fs::path(out_dir) / "images").string());
    if (e.result.saliency.defined()) ensure_writable_dir((fs::path(out_dir) / "maps").string());
  }
  const auto& s = e.scores;
  const auto& z = e.saliency;
  const auto& r = e.result;
  const int64_t n = images.size(0);
  auto x = images.cpu();
  auto t = targets.cpu().to(torch::kLong);
  json items = json::array();
  for (int64_t i = 0; i < n; ++i) {
    char stem[32];
    std::snprintf(stem, sizeof stem, "images/%04lld_", static_cast<long long>(i));
    json item = {{"index", i}, {"input", inputs.at(i)}};
    int64_t target = t[i].item<int64_t>();
    item["target_class"] = target;
    item["target_class_name"] = class_name(F, target);
    if (s.valid.defined()) {
      int64_t oc = s.original_class[i].item<int64_t>(), cc = s.cf_class[i].item<int64_t>();
      item["original_class"] = oc;
      item["original_class_name"] = class_name(F, oc);
      item["original_prob"] = s.original_prob[i].item<double>();
      item["counterfactual_class"] = cc;
      item["counterfactual_class_name"] = class_name(F, cc);
      item["target_prob"] = s.target_prob[i].item<double>();
      item["valid"] = s.valid[i].item<bool>();
      item["l1"] = s.l1[i].item<double>();
      item["l2"] = s.l2[i].item<double>();
      item["l0"] = s.l0[i].item<double>();
    }
    if (z.class_prob.defined()) {
      int64_t oc = z.original_class[i].item<int64_t>();
      item["original_class"] = oc;
      item["original_class_name"] = class_name(F, oc);
      item["original_prob"] = z.original_prob[i].item<double>();
      item["class_prob"] = z.class_prob[i].item<double>();
      if (z.infill_prob.defined()) item["infill_prob"] = z.infill_prob[i].item<double>();
      item["saliency_area"] = z.area[i].item<double>();
    }
    item["converged"] = r.converged[i].item<bool>();
    item["steps"] = r.steps[i].item<int64_t>();
    // Items of one batch are optimised together; their cost is shared evenly.
    item["seconds"] = n ? r.seconds / n : 0.0;
    std::string orig = std::string(stem) + "original.png";
    png_to(out_dir, orig, x[i]);
    item["original"] = orig;
    if (r.counterfactuals.defined()) {
      std::string cf = std::string(stem) + "counterfactual.png";
      std::string diff = std::string(stem) + "diff.png";
      png_to(out_dir, cf, r.counterfactuals[i]);
      if (!out_dir.empty()) png_to(out_dir, diff, signed_diff_image(x[i], r.counterfactuals[i]));
      item["counterfactual"] = cf;
      item["diff"] = diff;
    }
    if (r.saliency.defined()) {
      std::string png = std::string(stem) + "saliency.png";
      if (!out_dir.empty()) png_to(out_dir, png, saliency_overlay(x[i], r.saliency[i]));
      item["saliency"] = png;
      char npy[48];  // room for any int64 index
      std::snprintf(npy, sizeof npy, "maps/%04lld_saliency.npy", static_cast<long long>(i));
      if (!out_dir.empty()) write_npy((fs::path(out_dir) / npy).string(), r.saliency[i][0]);
      item["saliency_map"] = npy;
    }
    if (r.infilled.defined()) {
      std::string png = std::string(stem) + "infill.png";
      png_to(out_dir, png, r.infilled[i]);
      item["infill"] = png;
    }
    if (r.stage_images.defined()) {
      std::vector<torch::Tensor> strip{x[i]};
      for (int64_t k = 0; k < r.stage_images.size(1); ++k) strip.push_back(r.stage_images[i][k]);
      std::string st = std::string(stem) + "stages.png";
      if (!out_dir.empty()) png_to(out_dir, st, image_strip(strip));
      item["stages"] = st;
    }
    if (r.prior_psnr.defined()) item["prior_psnr"] = r.prior_psnr[i].item<double>();
    if (r.reconstruction.defined()) {
      std::string rec = std::string(stem) + "reconstruction.png";
      png_to(out_dir, rec, r.reconstruction[i]);
      item["reconstruction"] = rec;
      item["reconstruction_error"] = r.reconstruction_error[i].item<double>();
    }
    if (r.edits.defined()) write_edits(out_dir, stem, F, x[i], r, i, item);
    if (r.attribute_shift.defined())
      write_attribute_shift(F, r.attribute_shift, t[i].item<int64_t>(), i, item);
    if (i < static_cast<int64_t>(r.target_prob_trace.size()))
      item["trace"] = {{"target_prob", r.target_prob_trace[i]}, {"loss", r.loss_trace[i]}};
    for (const auto& [key, v] : per_item) {
      if (item.contains(key) || !v.defined()) continue;
      auto row = v[i].to(torch::kDouble).contiguous();
      if (row.dim() == 0)
        item[key] = row.item<double>();
      else
        item[key] =
            std::vector<double>(row.data_ptr<double>(), row.data_ptr<double>() + row.numel());
    }
    items.push_back(std::move(item));
  }
  json summary = {{"items", n},
                  {"seconds", r.seconds},
                  {"seconds_per_item", n ? r.seconds / n : 0.0},
                  {"mean_steps", r.steps.defined() ? mean_of(r.steps) : 0.0},
                  {"converged_rate", r.converged.defined() ? mean_of(r.converged) : 0.0}};
  // Each summary value also gets its 95% interval (Wilson for rates, cut to the metric's
  // range), as cfx eval reports it: "intervals": {metric: {"mean", "lo", "hi", "n"}}.
  json intervals = json::object();
  auto add = [&](const char* summary_key, const char* metric, const torch::Tensor& v) {
    summary[summary_key] = mean_of(v);
    if (n > 0) intervals[metric] = metric_ci(metric, v.to(torch::kFloat32).cpu().flatten());
  };
  if (r.edits.route.defined()) {  // latent: how many items each route reached
    json routes = json::object();
    for (int64_t k = 0; k <= static_cast<int64_t>(LatentRoute::kNone); ++k)
      routes[latent_route_name(k)] = (r.edits.route == k).sum().item<int64_t>();
    summary["routes"] = routes;
  }
  if (r.converged.defined() && n > 0)
    intervals["converged"] = metric_ci("converged", r.converged.to(torch::kFloat32).cpu());
  if (r.prior_psnr.defined()) add("mean_prior_psnr", "prior_psnr", r.prior_psnr);
  if (z.class_prob.defined()) {
    add("mean_class_prob", "class_prob", z.class_prob);
    add("mean_saliency_area", "saliency_area", z.area);
    if (z.infill_prob.defined()) add("mean_infill_prob", "infill_prob", z.infill_prob);
  }
  if (s.valid.defined()) {
    add("validity", "validity", s.valid);
    add("mean_target_prob", "target_prob", s.target_prob);
    add("mean_l1", "l1", s.l1);
    add("mean_l2", "l2", s.l2);
    add("mean_l0", "l0", s.l0);
    // AIP: items whose reconstruction G(E(x), D(x)) already had the target class count as
    // valid without any search; validity is also given without them.
    if (r.attribute_shift.base_class.defined()) {
      auto already = r.attribute_shift.base_class.cpu() == t;
      add("reconstruction_already_target_rate", "reconstruction_already_target", already);
      auto rest = s.valid.cpu().masked_select(~already);
      summary["validity_searched"] = rest.numel() ? json(mean_of(rest)) : json();
      summary["searched_items"] = rest.numel();
      if (rest.numel())
        intervals["validity_searched"] = metric_ci("validity", rest.to(torch::kFloat32));
    }
  }
  summary["intervals"] = intervals;
  const auto& info = F.info();
  json doc = {{"schema", "cfx.result"},
              {"schema_version", kResultSchemaVersion},
              {"cfx_version", CFX_VERSION},
              {"command", run_info.value("command", "explain")},
              {"model",
               {{"path", info.source},
                {"arch", info.arch},
                {"input_shape", info.input_shape},
                {"classes", info.class_names}}},
              {"config", e.config},
              {"run", run_info},
              {"items", items},
              {"summary", summary}};
  if (!out_dir.empty())
    write_atomic((fs::path(out_dir) / "result.json").string(), doc.dump(2) + "\n");
  return doc;
}

}  // namespace cfx
