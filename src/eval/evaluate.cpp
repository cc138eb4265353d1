#include "cfx/eval/evaluate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "cfx/core/error.h"
#include "cfx/data/morphometry.h"
#include "cfx/eval/attribute_change.h"
#include "cfx/eval/perturbation_curve.h"
#include "cfx/eval/realism.h"
#include "cfx/eval/saliency_metrics.h"
#include "cfx/methods/latent/latent.h"
#include "cfx/methods/registry.h"
#include "cfx/models/train.h"
#include "cfx/models/zoo.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace cfx {

void EvalOptions::validate() const {
  CFX_CHECK(batch_size >= 1, "EvalOptions.batch_size must be >= 1, got ", batch_size);
  CFX_CHECK(curve_steps >= 1, "EvalOptions.curve_steps must be >= 1, got ", curve_steps);
  CFX_CHECK(cout_steps >= 0 && cout_steps <= 10000,
            "EvalOptions.cout_steps must be in 0..10000, got ", cout_steps);
  CFX_CHECK(!fid_network || !fid_reference.empty(),
            "EvalOptions.fid_network is set but fid_reference is empty");
  CFX_CHECK(!resume || !batch_root.empty(), "EvalOptions.resume needs a batch_root");
}

std::vector<GaussianStats> fid_class_stats(Classifier& net, const torch::Tensor& images,
                                           const torch::Tensor& labels, int64_t num_classes) {
  CFX_CHECK(labels.numel() == images.size(0), "FID reference: need one label per image");
  auto feats = fid_features(net, images, fid_feature_layer(net));
  auto y = labels.cpu().to(torch::kLong);
  std::vector<GaussianStats> out(num_classes);
  for (int64_t c = 0; c < num_classes; ++c) {
    auto rows = y.eq(c).nonzero().flatten();
    if (rows.numel() >= 2) out[c] = gaussian_stats(feats.index_select(0, rows));
  }
  return out;
}

json fid_summary(Classifier& net, const std::vector<GaussianStats>& reference,
                 const torch::Tensor& xcf, const torch::Tensor& targets) {
  auto t = targets.cpu().to(torch::kLong);
  std::vector<GaussianStats> parts;
  std::vector<double> weights;
  for (int64_t c = 0; c < static_cast<int64_t>(reference.size()); ++c) {
    int64_t count = t.eq(c).sum().item<int64_t>();
    if (count == 0) continue;
    CFX_CHECK(reference[c].n >= 2, "FID: the reference has fewer than 2 real images of class ", c,
              ", a target of ", count, " item(s)");
    parts.push_back(reference[c]);
    weights.push_back(static_cast<double>(count));
  }
  CFX_CHECK(t.numel() >= 2 && !parts.empty() &&
                t.max().item<int64_t>() < static_cast<int64_t>(reference.size()),
            "FID needs at least 2 counterfactuals whose targets the reference knows");
  auto ref = mixture_stats(parts, weights);
  auto cf = gaussian_stats(fid_features(net, xcf, fid_feature_layer(net)));
  return {{"mean", frechet_distance(cf, ref)},
          {"lo", nullptr},
          {"hi", nullptr},
          {"n", cf.n},
          {"reference_n", ref.n}};
}

json mean_ci(const torch::Tensor& v) {
  auto x = v.to(torch::kDouble).flatten();
  x = x.masked_select(torch::isfinite(x));
  const int64_t n = x.numel();
  if (n == 0) return {{"mean", nullptr}, {"lo", nullptr}, {"hi", nullptr}, {"n", 0}};
  double mean = x.mean().item<double>();
  double sd = n > 1 ? x.std().item<double>() : 0.0;
  double half = 1.96 * sd / std::sqrt(static_cast<double>(n));
  return {{"mean", mean}, {"lo", mean - half}, {"hi", mean + half}, {"n", n}};
}

json wilson_ci(int64_t successes, int64_t n) {
  if (n == 0) return {{"mean", nullptr}, {"lo", nullptr}, {"hi", nullptr}, {"n", 0}};
  CFX_ASSERT(successes >= 0 && successes <= n);
  const double z = 1.96, z2 = z * z, nn = static_cast<double>(n);
  const double p = static_cast<double>(successes) / nn;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {{"mean", p},
          {"lo", std::max(0.0, centre - half)},
          {"hi", std::min(1.0, centre + half)},
          {"n", n},
          {"interval", "wilson"}};
}

json metric_ci(const std::string& key, const torch::Tensor& v) {
  constexpr double kInf = std::numeric_limits<double>::infinity();  // counts, ratios, costs
  static const std::set<std::string> rates = {
      "validity",   "oracle_validity", "pointing_game",
      "loc_error",  "converged",       "reconstruction_already_target",
      "route_edit", "route_request",   "route_latent"};
  static const std::map<std::string, std::pair<double, double>> ranges = {
      {"class_prob", {0, 1}},
      {"target_prob", {0, 1}},
      {"infill_prob", {0, 1}},
      {"saliency_area", {0, 1}},
      {"deletion_auc", {0, 1}},
      {"insertion_auc", {0, 1}},
      {"iou", {0, 1}},
      {"box_iou", {0, 1}},
      {"l0", {0, 1}},
      {"l1", {0, 1}},
      {"l2", {0, 1}},
      {"sanity_rank_corr", {-1, 1}},
      {"cout", {-1, 1}},
      {"mnac", {0, kInf}},
      {"mnac_factors", {0, kInf}},
      {"im1", {0, kInf}},
      {"im2", {0, kInf}},
      {"steps", {0, kInf}},
      {"seconds", {0, kInf}},
      {"peak_mb", {0, kInf}},
      {"peak_mb_per_item", {0, kInf}}};
  auto x = v.to(torch::kDouble).flatten();
  x = x.masked_select(torch::isfinite(x));
  if (rates.count(key) && x.numel() > 0 && x.eq(0).logical_or(x.eq(1)).all().item<bool>())
    return wilson_ci(std::llround(x.sum().item<double>()), x.numel());
  json j = mean_ci(v);
  auto range = ranges.find(key);
  if (range != ranges.end() && !j["lo"].is_null()) {
    j["lo"] = std::max(range->second.first, j["lo"].get<double>());
    j["hi"] = std::min(range->second.second, j["hi"].get<double>());
  }
  return j;
}

double surrogate_agreement(Classifier& F, const torch::Tensor& train_images,
                           const torch::Tensor& heldout, uint64_t seed) {
  Dataset train, test;
  train.images = train_images.cpu();
  train.labels = F.predict_proba(train.images).argmax(1);
  train.class_names = F.class_names();
  test.images = heldout.cpu();
  test.labels = F.predict_proba(test.images).argmax(1);
  test.class_names = F.class_names();
  ZooOptions zo;
  zo.arch = "cnn";
  zo.channels = train.images.size(1);
  zo.height = train.images.size(2);
  zo.width = train.images.size(3);
  zo.num_classes = F.num_classes();
  zo.width_mult = 8;
  TrainOptions to;
  to.epochs = 30;
  to.batch_size = 32;
  to.seed = seed;
  torch::manual_seed(seed);
  auto net = make_zoo_net(zo);
  auto [mean, sd] = channel_stats(train.images);
  return train_classifier(*net, train, test, mean, sd, to).test_accuracy;
}

namespace {

// The saliency metrics of METHODS.md §5 for one method's maps.
void score_saliency_run(MethodEvaluation& m, const Request& req, const EvalOptions& o) {
  auto& F = *req.classifier;
  const auto& r = m.explanation.result;
  const auto& z = m.explanation.saliency;
  auto f = [](const torch::Tensor& t) { return t.to(torch::kFloat32).cpu(); };
  m.per_item["class_prob"] = f(z.class_prob);
  m.per_item["saliency_area"] = f(z.area);
  if (z.infill_prob.defined()) m.per_item["infill_prob"] = f(z.infill_prob);
  auto di = deletion_insertion(F, req.images, r.saliency, req.targets, o.curve_steps);
  m.per_item["deletion_auc"] = di.deletion_auc;
  m.per_item["insertion_auc"] = di.insertion_auc;
  m.curves["deletion_curve"] = di.deletion;
  m.curves["insertion_curve"] = di.insertion;
  m.per_item["saliency_metric"] = saliency_metric(F, req.images, r.saliency, req.targets);
  if (o.masks.defined()) {
    m.per_item["pointing_game"] = pointing_game(r.saliency, o.masks);
    m.per_item["iou"] = localisation_iou(r.saliency, o.masks);
    m.per_item["box_iou"] = localisation_box_iou(r.saliency, o.masks);
    m.per_item["loc_error"] = localisation_errors(m.per_item["box_iou"]);
  }
  if (o.randomized) {
    // The same method, seed and targets on the randomised model: its maps must differ.
    json opts = o.method_options.is_object() && o.method_options.contains(m.method)
                    ? o.method_options.at(m.method)
                    : json::object();
    auto method = make_method(m.method, opts);
    Request rr = req;
    rr.classifier = o.randomized;
    rr.progress = nullptr;
    BatchFiles files;
    if (!o.batch_root.empty())
      files = {(fs::path(o.batch_root) / m.method / "batches-sanity").string(), o.resume};
    auto rand = explain(*method, rr, o.batch_size, files, o.batch_workers);
    m.per_item["sanity_rank_corr"] = map_rank_correlation(r.saliency, rand.result.saliency);
  }
}

}  // namespace

std::vector<MethodEvaluation> evaluate(const Request& request, const EvalOptions& o) {
  CFX_CHECK(!o.methods.empty(), "no methods to evaluate");
  o.validate();
  request.validate();
  std::vector<MethodEvaluation> out;
  auto& F = *request.classifier;
  auto targets = request.targets.cpu().to(torch::kLong);
  for (const auto& name : o.methods) {
    json opts = o.method_options.is_object() && o.method_options.contains(name)
                    ? o.method_options.at(name)
                    : json::object();
    const auto& info = method_info(name);
    auto method = info.make(opts);
    MethodEvaluation m;
    m.method = name;
    const bool saliency = info.kind == "saliency";
    Request req = request;
    if (saliency)
      req.targets = o.saliency_targets.defined() ? o.saliency_targets.cpu().to(torch::kLong)
                                                 : F.predict_proba(request.images).argmax(1);
    BatchFiles files;
    if (!o.batch_root.empty())
      files = {(fs::path(o.batch_root) / name / "batches").string(), o.resume};
    m.explanation = explain(*method, req, o.batch_size, files, o.batch_workers);
    const auto& r = m.explanation.result;
    const auto& s = m.explanation.scores;
    const int64_t n = request.images.size(0);
    auto f = [](const torch::Tensor& t) { return t.to(torch::kFloat32).cpu(); };
    // Seconds are shared evenly by the items of one run.
    m.per_item["seconds"] = torch::full({n}, n ? r.seconds / n : 0.0, torch::kFloat32);
    m.per_item["steps"] = f(r.steps);
    m.per_item["peak_mb"] = m.explanation.batch_peak_mb;
    m.per_item["peak_mb_per_item"] = m.explanation.item_peak_mb;
    if (r.prior_psnr.defined()) m.per_item["prior_psnr"] = f(r.prior_psnr);
    if (r.counterfactuals.defined()) {
      m.per_item["validity"] = f(s.valid);
      m.per_item["target_prob"] = f(s.target_prob);
      m.per_item["l1"] = f(s.l1);
      m.per_item["l2"] = f(s.l2);
      m.per_item["l0"] = f(s.l0);
      if (o.oracle) {
        auto p = o.oracle->predict_proba(r.counterfactuals.to(o.oracle->device()));
        m.per_item["oracle_validity"] = f(p.argmax(1).cpu().eq(targets));
      }
      if (o.autoencoders) {
        auto [im1, im2] = im1_im2(*o.autoencoders, r.counterfactuals, targets, s.original_class);
        m.per_item["im1"] = f(im1);
        m.per_item["im2"] = f(im2);
      }
      if (o.cout_steps > 0)
        m.per_item["cout"] =
            cout_scores(F, request.images, r.counterfactuals, targets, o.cout_steps).cout;
      // AIP: an item whose reconstruction already had the target class is valid without
      // any search (its *_searched rates, in the summary below, leave it out).
      if (r.attribute_shift.base_class.defined())
        m.per_item["reconstruction_already_target"] =
            f(r.attribute_shift.base_class.cpu().eq(targets));
      // Latent: which route reached the target (none: the best single edit, invalid).
      if (r.edits.route.defined())
        for (auto route : {LatentRoute::kEdit, LatentRoute::kRequest, LatentRoute::kLatent})
          m.per_item[std::string("route_") + latent_route_name(static_cast<int64_t>(route))] =
              f(r.edits.route.cpu().eq(static_cast<int64_t>(route)));
      if (o.attributes) {
        auto change = attribute_change(*o.attributes, request.images, r.counterfactuals);
        m.per_item["mnac"] = change.attributes;
        // By factor only where it can differ: an oracle with exclusive groups (shapes).
        if (!o.attributes->groups().empty()) m.per_item["mnac_factors"] = change.factors;
      }
      if (o.morphometry) {
        auto change = (morphometric_attributes(r.counterfactuals) -
                       morphometric_attributes(request.images.cpu()))
                          .abs();
        auto names = morphometric_attribute_names();
        for (size_t k = 0; k < names.size(); ++k)
          m.per_item["morph_" + names[k]] = change.select(1, static_cast<int64_t>(k)).contiguous();
      }
    }
    if (saliency) score_saliency_run(m, req, o);
    for (const auto& [k, v] : m.per_item) m.summary[k] = metric_ci(k, v);
    if (m.per_item.count("reconstruction_already_target") &&
        (m.per_item["reconstruction_already_target"] < 0.5).any().item<bool>()) {
      auto searched = m.per_item["reconstruction_already_target"] < 0.5;
      for (const char* k : {"validity", "oracle_validity"})
        if (m.per_item.count(k))
          m.summary[std::string(k) + "_searched"] =
              metric_ci(k, m.per_item[k].masked_select(searched));
    }
    if (o.fid_network && r.counterfactuals.defined() && n >= 2)
      m.summary["fid"] = fid_summary(*o.fid_network, o.fid_reference, r.counterfactuals, targets);
    if (o.surrogate_heldout.defined() && r.counterfactuals.defined()) {
      auto q = request.images.cpu();
      m.summary["surrogate_agreement_queries"] =
          surrogate_agreement(F, q, o.surrogate_heldout, o.surrogate_seed);
      m.summary["surrogate_agreement_with_counterfactuals"] = surrogate_agreement(
          F, torch::cat({q, r.counterfactuals}), o.surrogate_heldout, o.surrogate_seed);
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace cfx
