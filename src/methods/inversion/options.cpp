// InversionOptions: validation, JSON round trip and the presets' defaults.
#include "cfx/methods/options.h"

#include <cmath>

#include "cfx/core/error.h"
#include "cfx/methods/inversion/inversion.h"

using nlohmann::json;

namespace cfx {

namespace {

// Lists may be given as JSON arrays or, from the command line, as "a,b,c".
template <class T>
void read_list(const json& j, const std::string& key, std::vector<T>& out) {
  if (!j.contains(key)) return;
  const auto& v = j.at(key);
  if (v.is_string()) {
    json arr = json::array();
    std::string s = v.get<std::string>(), item;
    for (size_t b = 0; b <= s.size();) {
      size_t e = s.find(',', b);
      if (e == std::string::npos) e = s.size();
      item = s.substr(b, e - b);
      if (!item.empty()) {
        auto parsed = json::parse(item, nullptr, false);
        arr.push_back(parsed.is_discarded() || parsed.is_string() ? json(item) : parsed);
      }
      b = e + 1;
    }
    json wrapped = {{key, arr}};
    read_option(wrapped, key, out);
    return;
  }
  read_option(j, key, out);
}

}  // namespace

void InversionOptions::validate() const {
  CFX_CHECK(steps >= 1 && steps <= 1000000, "invalid steps: ", steps, " (use >= 1)");
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid lr: ", lr, " (use > 0)");
  CFX_CHECK(confidence > 0 && confidence < 1, "invalid confidence: ", confidence,
            " (use a probability in (0, 1))");
  prior.validate();
  CFX_CHECK(fit_steps >= 0 && fit_steps <= 1000000, "invalid fit_steps: ", fit_steps);
  CFX_CHECK(fit_lr > 0 && std::isfinite(fit_lr), "invalid fit_lr: ", fit_lr, " (use > 0)");
  CFX_CHECK(fit_psnr > 0 && fit_psnr <= 100, "invalid fit_psnr: ", fit_psnr, " (use (0, 100] dB)");
  for (auto [name, v] : {std::pair<const char*, double>{"validity", validity},
                         {"l1", l1},
                         {"l2", l2},
                         {"tv", tv},
                         {"feature", feature},
                         {"bn", bn},
                         {"duq", duq},
                         {"loss_head", loss_head}})
    CFX_CHECK(v >= 0 && std::isfinite(v), "invalid ", name, " weight: ", v, " (use >= 0)");
  CFX_CHECK(manifold == "weights" || manifold == "duq-or-bn", "invalid manifold: '", manifold,
            "' (use weights or duq-or-bn)");
  for (size_t i = 0; i < stages.size(); ++i) {
    CFX_CHECK(stages[i] > 0 && stages[i] < 1, "invalid stages: ", stages[i],
              " is not a probability in (0, 1)");
    CFX_CHECK(i == 0 || stages[i] > stages[i - 1], "invalid stages: ", stages[i], " follows ",
              stages[i - 1], " (stages must increase)");
  }
  // min_steps above steps is allowed: every item then runs the whole budget (steps).
  CFX_CHECK(min_steps >= 0, "invalid min_steps: ", min_steps, " (use >= 0)");
  CFX_CHECK(stage_min_steps >= 0, "invalid stage_min_steps: ", stage_min_steps);
  CFX_CHECK(coarse_stages >= 0, "invalid coarse_stages: ", coarse_stages);
  CFX_CHECK(coarse_factor >= 1 && coarse_factor <= 64, "invalid coarse_factor: ", coarse_factor);
}

json InversionOptions::to_json() const {
  return {{"steps", steps},
          {"lr", lr},
          {"confidence", confidence},
          {"min_steps", min_steps},
          {"prior", prior.prior},
          {"param", prior.param},
          {"dip_channels", prior.dip_channels},
          {"dip_noise", prior.dip_noise},
          {"dip_noise_channels", prior.dip_noise_channels},
          {"dip_scale", prior.dip_scale},
          {"inr_features", prior.inr_features},
          {"inr_scale", prior.inr_scale},
          {"inr_hidden", prior.inr_hidden},
          {"fit_steps", fit_steps},
          {"fit_lr", fit_lr},
          {"fit_psnr", fit_psnr},
          {"validity", validity},
          {"l1", l1},
          {"l2", l2},
          {"tv", tv},
          {"feature", feature},
          {"feature_layers", feature_layers},
          {"bn", bn},
          {"duq", duq},
          {"loss_head", loss_head},
          {"manifold", manifold},
          {"stages", stages},
          {"stage_min_steps", stage_min_steps},
          {"coarse_stages", coarse_stages},
          {"coarse_factor", coarse_factor}};
}

std::vector<std::string> inversion_presets() {
  return {"pixel", "deepinv", "dip", "dip-aux", "disc"};
}

InversionOptions InversionOptions::preset(const std::string& name) {
  InversionOptions o;
  if (name == "pixel") return o;
  if (name == "deepinv") {
    o.bn = 0.05;
    return o;
  }
  if (name == "dip" || name == "dip-aux" || name == "disc") {
    o.prior.prior = "dip";
    o.lr = 0.002;
    o.tv = 0.0;
  }
  if (name == "dip") return o;
  if (name == "dip-aux") {
    // The DIP-counterfactual paper's pieces beyond the prior: the auxiliary loss estimator,
    // a pre-image term that keeps the encoding at an intermediate layer (feature_layers;
    // empty = the layer at 40% depth), and a fixed minimum budget so both act after the
    // item first becomes valid (with early stop alone items stop at the first valid step,
    // before the auxiliary term can change anything; docs/claims-inversion.md).
    o.loss_head = 1.0;
    o.feature = 1.0;
    o.min_steps = 100;
    return o;
  }
  if (name == "disc") {
    o.l1 = 1.0;
    o.feature = 1.0;
    o.duq = 1.0;
    o.bn = 0.05;
    o.manifold = "duq-or-bn";
    o.stages = {0.3, 0.5, 0.7, 0.9};
    o.confidence = 0.9;
    o.stage_min_steps = 10;
    o.coarse_stages = 2;  // takes effect with prior=pixel or inr
    return o;
  }
  std::string known;
  for (const auto& p : inversion_presets()) known += (known.empty() ? "" : ", ") + p;
  fail("unknown inversion preset '", name, "'; known: ", known);
}

InversionOptions InversionOptions::from_json(const json& j, const std::string& preset_name) {
  InversionOptions o = preset(preset_name);
  check_option_keys(preset_name, j, o.to_json());
  read_option(j, "steps", o.steps);
  read_option(j, "lr", o.lr);
  read_option(j, "confidence", o.confidence);
  read_option(j, "min_steps", o.min_steps);
  read_option(j, "prior", o.prior.prior);
  read_option(j, "param", o.prior.param);
  read_option(j, "dip_channels", o.prior.dip_channels);
  read_option(j, "dip_noise", o.prior.dip_noise);
  read_option(j, "dip_noise_channels", o.prior.dip_noise_channels);
  read_option(j, "dip_scale", o.prior.dip_scale);
  read_option(j, "inr_features", o.prior.inr_features);
  read_option(j, "inr_scale", o.prior.inr_scale);
  read_option(j, "inr_hidden", o.prior.inr_hidden);
  read_option(j, "fit_steps", o.fit_steps);
  read_option(j, "fit_lr", o.fit_lr);
  read_option(j, "fit_psnr", o.fit_psnr);
  read_option(j, "validity", o.validity);
  read_option(j, "l1", o.l1);
  read_option(j, "l2", o.l2);
  read_option(j, "tv", o.tv);
  read_option(j, "feature", o.feature);
  read_list(j, "feature_layers", o.feature_layers);
  read_option(j, "bn", o.bn);
  read_option(j, "duq", o.duq);
  read_option(j, "loss_head", o.loss_head);
  read_option(j, "manifold", o.manifold);
  read_list(j, "stages", o.stages);
  read_option(j, "stage_min_steps", o.stage_min_steps);
  read_option(j, "coarse_stages", o.coarse_stages);
  read_option(j, "coarse_factor", o.coarse_factor);
  for (const auto& item : j.items()) o.given.insert(item.key());
  o.validate();
  return o;
}

}  // namespace cfx
