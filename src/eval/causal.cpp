#include "cfx/eval/causal.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "cfx/core/error.h"
#include "cfx/data/shapes_reader.h"
#include "cfx/methods/latent/latent.h"

using nlohmann::json;

namespace cfx {

void InterventionSamples::check() const {
  const int64_t K = static_cast<int64_t>(names.size());
  CFX_CHECK(outcome.defined() && outcome.dim() == 1, "intervention samples: outcome must be [S]");
  const int64_t S = outcome.size(0);
  CFX_CHECK(prob.defined() && prob.sizes() == outcome.sizes(),
            "intervention samples: prob must be [", S, "]");
  for (const auto* t : {&attr, &outcome_on, &outcome_off, &prob_on, &prob_off, &took_on, &took_off})
    CFX_CHECK(t->defined() && t->dim() == 2 && t->size(0) == S && t->size(1) == K,
              "intervention samples: per-attribute fields must be [", S, ", ", K, "]");
  CFX_CHECK(pixels_took_on.defined() == pixels_took_off.defined(),
            "intervention samples: pixels_took_on and pixels_took_off come together");
  for (const auto* t : {&pixels_took_on, &pixels_took_off})
    CFX_CHECK(!t->defined() || (t->dim() == 2 && t->size(0) == S && t->size(1) == K),
              "intervention samples: pixel readings must be [", S, ", ", K, "]");
  if (group.defined()) {
    CFX_CHECK(group.dim() == 1 && group.size(0) == S && group.scalar_type() == torch::kLong,
              "intervention samples: group must be [", S, "] int64");
    const int64_t G = groups();
    CFX_CHECK(group.min().item<int64_t>() >= 0, "intervention samples: negative group");
    auto counts = torch::bincount(group.cpu(), {}, G);
    CFX_CHECK(counts.eq(S / G).all().item<bool>() && S % G == 0,
              "intervention samples: every group (shift predictor) must hold as many samples "
              "as the others");
  }
}

int64_t InterventionSamples::groups() const {
  if (!group.defined() || group.numel() == 0) return 1;
  return group.max().item<int64_t>() + 1;
}

InterventionSamples interleave_groups(const std::vector<InterventionSamples>& parts) {
  CFX_CHECK(!parts.empty(), "no intervention samples to interleave");
  if (parts.size() == 1) return parts[0];
  const int64_t G = static_cast<int64_t>(parts.size());
  InterventionSamples out;
  out.names = parts[0].names;
  for (const auto& p : parts) {
    p.check();
    CFX_CHECK(p.names == out.names && p.outcome.size(0) == parts[0].outcome.size(0),
              "intervention samples of different attributes or sizes cannot be interleaved");
  }
  using S = InterventionSamples;
  const bool pixels = std::all_of(parts.begin(), parts.end(),
                                  [](const S& p) { return p.pixels_took_on.defined(); });
  for (torch::Tensor S::*f :
       {&S::attr, &S::outcome, &S::prob, &S::outcome_on, &S::outcome_off, &S::prob_on, &S::prob_off,
        &S::took_on, &S::took_off, &S::pixels_took_on, &S::pixels_took_off}) {
    if (!pixels && (f == &S::pixels_took_on || f == &S::pixels_took_off)) continue;
    std::vector<torch::Tensor> v;
    for (const auto& p : parts) v.push_back(p.*f);
    auto stacked = torch::stack(v, 1);  // [S, G, ...]
    auto sizes = stacked.sizes().vec();
    sizes.erase(sizes.begin());
    sizes[0] = stacked.size(0) * G;
    out.*f = stacked.reshape(sizes);
  }
  out.group = torch::arange(G, torch::kLong).repeat({parts[0].outcome.size(0)});
  return out;
}

namespace {

json causal_num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

json Interval::to_json() const {
  return {
      {"estimate", causal_num(estimate)}, {"lo", causal_num(lo)}, {"hi", causal_num(hi)}, {"n", n}};
}

json CausalScores::to_json() const {
  return {{"attribute", attribute},
          {"necessity", necessity.to_json()},
          {"sufficiency", sufficiency.to_json()},
          {"necessity_and_sufficiency", nesuf.to_json()},
          {"contrastive_attribution", contrastive.to_json()},
          {"necessity_placebo", necessity_placebo.to_json()},
          {"sufficiency_placebo", sufficiency_placebo.to_json()},
          {"necessity_adjusted", necessity_adjusted.to_json()},
          {"sufficiency_adjusted", sufficiency_adjusted.to_json()},
          {"intervention_on_rate", on_rate},
          {"intervention_off_rate", off_rate},
          {"intervention_on_rate_pixels", causal_num(on_rate_pixels)},
          {"intervention_off_rate_pixels", causal_num(off_rate_pixels)}};
}

void CausalOptions::validate() const {
  CFX_CHECK(bootstrap >= 10 && bootstrap <= 100000, "invalid bootstrap: ", bootstrap,
            " (use 10 to 100000 resamples)");
  CFX_CHECK(confidence > 0 && confidence < 1, "invalid confidence: ", confidence,
            " (use a level in (0, 1), e.g. 0.95)");
}

void SamplingOptions::validate() const {
  CFX_CHECK(samples >= 1, "invalid samples: ", samples, " (use >= 1)");
  CFX_CHECK(batch_size >= 1, "invalid batch size: ", batch_size);
  CFX_CHECK(strength > 0 && std::isfinite(strength), "invalid strength: ", strength);
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Percentile interval of the finite values of `boot` ([B]).
void percentiles(const torch::Tensor& boot, double confidence, Interval& out) {
  auto v = boot.to(torch::kDouble);
  v = std::get<0>(v.masked_select(torch::isfinite(v)).sort());
  const int64_t m = v.numel();
  if (m == 0) {
    out.lo = out.hi = kNaN;
    return;
  }
  double q = (1 - confidence) / 2;
  auto at = [&](double p) {
    // Linear interpolation between order statistics (numpy's default).
    double pos = p * static_cast<double>(m - 1);
    auto i = static_cast<int64_t>(std::floor(pos));
    int64_t j = std::min(m - 1, i + 1);
    double f = pos - static_cast<double>(i);
    return (1 - f) * v[i].item<double>() + f * v[j].item<double>();
  };
  out.lo = at(q);
  out.hi = at(1 - q);
}

// E[value | cond] with its bootstrap interval (value: a 0/1 event for P(event | cond), or a
// difference of two events); idx: [B, S] resampled sample indices.
Interval conditional(const torch::Tensor& cond, const torch::Tensor& value,
                     const torch::Tensor& idx, double confidence) {
  Interval out;
  auto v = value.to(torch::kDouble);
  out.n = cond.sum().item<int64_t>();
  out.estimate = out.n > 0 ? v.masked_select(cond).sum().item<double>() / double(out.n) : kNaN;
  auto c = cond.index({idx}).to(torch::kDouble), e = v.index({idx});
  auto den = c.sum(1);
  auto boot = (c * e).sum(1) / den;  // NaN where a resample has no sample meeting the condition
  percentiles(boot, confidence, out);
  return out;
}

// mean(v) with its bootstrap interval.
Interval mean_of(const torch::Tensor& v, const torch::Tensor& idx, double confidence) {
  Interval out;
  auto d = v.to(torch::kDouble);
  out.n = d.numel();
  out.estimate = out.n > 0 ? d.mean().item<double>() : kNaN;
  percentiles(d.index({idx}).mean(1), confidence, out);
  return out;
}

}  // namespace

std::vector<CausalScores> causal_scores(const InterventionSamples& s, const CausalOptions& o) {
  o.validate();
  s.check();
  const int64_t S = s.outcome.size(0), K = static_cast<int64_t>(s.names.size());
  CFX_CHECK(S >= 1, "no samples to score");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  torch::Tensor idx;
  const int64_t G = s.groups();
  if (G == 1) {
    idx = torch::randint(0, S, {o.bootstrap, S}, gen, torch::kLong);
  } else {
    // Two levels: G groups drawn with replacement, then each drawn group's samples resampled.
    auto rows = torch::argsort(s.group.cpu() * S + torch::arange(S, torch::kLong));  // by group
    const int64_t per = S / G;
    auto pick = torch::randint(0, G, {o.bootstrap, G, 1}, gen, torch::kLong);
    auto within = torch::randint(0, per, {o.bootstrap, G, per}, gen, torch::kLong);
    idx = rows.index({(pick * per + within).view({o.bootstrap, S})});
  }
  auto outcome = s.outcome.cpu().to(torch::kBool);
  std::vector<CausalScores> out;
  for (int64_t k = 0; k < K; ++k) {
    auto on = s.attr.select(1, k).cpu().to(torch::kBool);
    auto o_on = s.outcome_on.select(1, k).cpu().to(torch::kBool);
    auto o_off = s.outcome_off.select(1, k).cpu().to(torch::kBool);
    CausalScores c;
    c.attribute = s.names[k];
    c.necessity = conditional(on & outcome, ~o_off, idx, o.confidence);
    c.sufficiency = conditional(~on & ~outcome, o_on, idx, o.confidence);
    // The placebo asks for the state X already has (do(X on) where X is on): what the edit
    // changes by itself. The adjusted scores subtract it sample by sample.
    c.necessity_placebo = conditional(on & outcome, ~o_on, idx, o.confidence);
    c.sufficiency_placebo = conditional(~on & ~outcome, o_off, idx, o.confidence);
    c.necessity_adjusted = conditional(
        on & outcome, (~o_off).to(torch::kDouble) - (~o_on).to(torch::kDouble), idx, o.confidence);
    c.sufficiency_adjusted = conditional(
        ~on & ~outcome, o_on.to(torch::kDouble) - o_off.to(torch::kDouble), idx, o.confidence);
    c.nesuf = mean_of(o_on.to(torch::kDouble) - o_off.to(torch::kDouble), idx, o.confidence);
    c.contrastive =
        mean_of(s.prob_on.select(1, k).cpu() - s.prob_off.select(1, k).cpu(), idx, o.confidence);
    c.on_rate = s.took_on.select(1, k).to(torch::kDouble).mean().item<double>();
    c.off_rate = s.took_off.select(1, k).to(torch::kDouble).mean().item<double>();
    if (s.pixels_took_on.defined()) {
      c.on_rate_pixels = s.pixels_took_on.select(1, k).to(torch::kDouble).mean().item<double>();
      c.off_rate_pixels = s.pixels_took_off.select(1, k).to(torch::kDouble).mean().item<double>();
    }
    out.push_back(std::move(c));
  }
  return out;
}

OutcomeReader::OutcomeReader(Classifier& F, const std::vector<int64_t>& outcome) : F_(F) {
  CFX_CHECK(!outcome.empty(), "no outcome class given");
  for (int64_t c : outcome)
    CFX_CHECK(c >= 0 && c < F.num_classes(), "outcome class ", c, " is out of range for ",
              F.info().source, " (", F.num_classes(), " classes)");
  in_set_ = torch::zeros({F.num_classes()}, torch::kBool);
  for (int64_t c : outcome) in_set_[c] = true;
  classes_ = torch::tensor(outcome, torch::kLong);
}

void OutcomeReader::read(const torch::Tensor& x, torch::Tensor& in_outcome,
                         torch::Tensor& prob) const {
  auto p = F_.predict_proba(x).cpu();
  in_outcome = in_set_.index({p.argmax(1)});
  prob = p.index_select(1, classes_).sum(1);
}

void InterventionCollector::close_batch() {
  if (b_on_o_.empty()) return;
  on_o_.push_back(torch::stack(b_on_o_, 1));
  off_o_.push_back(torch::stack(b_off_o_, 1));
  on_p_.push_back(torch::stack(b_on_p_, 1));
  off_p_.push_back(torch::stack(b_off_p_, 1));
  on_t_.push_back(torch::stack(b_on_t_, 1));
  off_t_.push_back(torch::stack(b_off_t_, 1));
  if (!b_on_px_.empty()) {
    on_px_.push_back(torch::stack(b_on_px_, 1));
    off_px_.push_back(torch::stack(b_off_px_, 1));
  }
  for (auto* v :
       {&b_on_o_, &b_off_o_, &b_on_p_, &b_off_p_, &b_on_t_, &b_off_t_, &b_on_px_, &b_off_px_})
    v->clear();
}

void InterventionCollector::begin(torch::Tensor attr, torch::Tensor outcome, torch::Tensor prob) {
  close_batch();
  attr_.push_back(std::move(attr));
  outcome_.push_back(std::move(outcome));
  prob_.push_back(std::move(prob));
}

void InterventionCollector::add(bool on, torch::Tensor outcome, torch::Tensor prob,
                                torch::Tensor took, torch::Tensor took_pixels) {
  if (took_pixels.defined()) (on ? b_on_px_ : b_off_px_).push_back(std::move(took_pixels));
  (on ? b_on_o_ : b_off_o_).push_back(std::move(outcome));
  (on ? b_on_p_ : b_off_p_).push_back(std::move(prob));
  (on ? b_on_t_ : b_off_t_).push_back(std::move(took));
}

InterventionSamples InterventionCollector::finish(std::vector<std::string> names) {
  close_batch();
  assert(!attr_.empty() && on_o_.size() == attr_.size());
  InterventionSamples s;
  s.names = std::move(names);
  s.attr = torch::cat(attr_);
  s.outcome = torch::cat(outcome_);
  s.prob = torch::cat(prob_);
  s.outcome_on = torch::cat(on_o_);
  s.outcome_off = torch::cat(off_o_);
  s.prob_on = torch::cat(on_p_);
  s.prob_off = torch::cat(off_p_);
  s.took_on = torch::cat(on_t_);
  s.took_off = torch::cat(off_t_);
  // Read from the pixels only if every batch was (a sampler reads all or none).
  if (!on_px_.empty() && on_px_.size() == on_t_.size()) {
    s.pixels_took_on = torch::cat(on_px_);
    s.pixels_took_off = torch::cat(off_px_);
  }
  return s;
}

InterventionSamples sample_interventions(Classifier& F, const std::vector<int64_t>& outcome,
                                         Generator& G, AttributeClassifier& A, Shifter& S,
                                         const SamplingOptions& o, const ProgressFn& progress) {
  o.validate();
  check_shifter_fits(S, G, A);
  const OutcomeReader reader(F, outcome);
  CFX_CHECK(G.output_shape() == F.input_shape(), "the generator ", G.source,
            " makes images of another shape than the classifier ", F.info().source, " takes");
  torch::NoGradGuard ng;
  const auto ks = attribute_indices(A, o.only);
  // Shapes images are also read from their pixels: the edit may satisfy A without drawing.
  const auto reading = shapes_reading_for(A.names(), G.output_shape());
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  torch::Tensor w_all;
  if (o.latents.defined()) {
    CFX_CHECK(o.latents.dim() == 2 && o.latents.size(1) == G.latent_dim() && o.latents.size(0) >= 1,
              "latents must be [S, ", G.latent_dim(), "], got ", o.latents.sizes());
    w_all = o.latents.to(torch::kCPU, torch::kFloat);
  } else {
    w_all = torch::randn({o.samples, G.latent_dim()}, gen);
  }
  const int64_t total = w_all.size(0);
  InterventionCollector c;
  for (int64_t i = 0; i < total; i += o.batch_size) {
    auto w = w_all.slice(0, i, std::min(total, i + o.batch_size)).to(G.device());
    const int64_t b = w.size(0);
    auto x = G.decode(w);
    torch::Tensor ob, pb;
    reader.read(x, ob, pb);
    c.begin(A.probs(x).cpu().index_select(1, torch::tensor(ks, torch::kLong)) > 0.5, ob, pb);
    for (int64_t k : ks) {
      for (int v : {1, -1}) {
        auto xk = G.decode(
            intervene(S, w, k, torch::full({b}, static_cast<float>(v)), o.strength).to(G.device()));
        auto seen = A.probs(xk).select(1, k).cpu() > 0.5;
        torch::Tensor okb, pkb, px;
        reader.read(xk, okb, pkb);
        if (reading) px = read_shapes(xk.clamp(0, 1), *reading).attributes.select(1, k) > 0.5;
        c.add(v == 1, okb, pkb, v == 1 ? seen : ~seen, px.defined() && v != 1 ? ~px : px);
      }
    }
    if (progress) progress(i + b, total, total - (i + b));
  }
  std::vector<std::string> names;
  for (int64_t k : ks) names.push_back(A.names()[k]);
  return c.finish(std::move(names));
}

}  // namespace cfx
