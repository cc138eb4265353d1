#include "cfx/eval/evaluate.h"

#include <cmath>

#include "cfx/core/error.h"
#include "cfx/eval/realism.h"
#include "cfx/eval/saliency_metrics.h"
#include "cfx/methods/registry.h"
#include "cfx/models/train.h"
#include "cfx/models/zoo.h"

using nlohmann::json;

namespace cfx {

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
    auto rand = explain(*method, rr, o.batch_size);
    m.per_item["sanity_rank_corr"] = map_rank_correlation(r.saliency, rand.result.saliency);
  }
}

}  // namespace

std::vector<MethodEvaluation> evaluate(const Request& request, const EvalOptions& o) {
  CFX_CHECK(!o.methods.empty(), "no methods to evaluate");
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
    m.explanation = explain(*method, req, o.batch_size);
    const auto& r = m.explanation.result;
    const auto& s = m.explanation.scores;
    const int64_t n = request.images.size(0);
    auto f = [](const torch::Tensor& t) { return t.to(torch::kFloat32).cpu(); };
    // Seconds are shared evenly by the items of one run.
    m.per_item["seconds"] = torch::full({n}, n ? r.seconds / n : 0.0, torch::kFloat32);
    m.per_item["steps"] = f(r.steps);
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
    }
    if (saliency) score_saliency_run(m, req, o);
    for (const auto& [k, v] : m.per_item) m.summary[k] = mean_ci(v);
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
