#include "cfx/methods/registry.h"

#include "cfx/core/error.h"
#include "cfx/core/surface.h"
#include "cfx/methods/aip/aip.h"
#include "cfx/methods/inversion/inversion.h"
#include "cfx/methods/latent/latent.h"
#include "cfx/methods/saliency/baselines.h"
#include "cfx/methods/saliency/fido.h"

namespace cfx {

// One explicit list rather than self-registering statics: a static library drops object
// files nothing references, and with them their registrations.
const std::vector<MethodInfo>& method_registry() {
  auto inversion = [](const std::string& preset) {
    return [preset](const nlohmann::json& j) -> std::unique_ptr<Method> {
      return std::make_unique<Inversion>(preset, InversionOptions::from_json(j, preset));
    };
  };
  auto fido = [](const std::string& preset) {
    return [preset](const nlohmann::json& j) -> std::unique_ptr<Method> {
      return std::make_unique<Fido>(preset, FidoOptions::from_json(j, preset));
    };
  };
  static const std::vector<MethodInfo> registry = {
      {"pixel", "counterfactual",
       "vanilla inversion: free pixels, cross-entropy to the target + L1 + total variation",
       "Wachter et al. style baseline (METHODS.md §1)", inversion("pixel")},
      {"deepinv", "counterfactual", "pixel inversion + DeepInversion's batch-norm statistics prior",
       "DeepInversion baseline (METHODS.md §1)", inversion("deepinv")},
      {"dip", "counterfactual",
       "deep image prior: an untrained U-Net fitted to the query, then optimised + L1",
       "DIP counterfactuals baseline (METHODS.md §1)", inversion("dip")},
      {"dip-aux", "counterfactual",
       "deep image prior + the classifier's auxiliary loss estimator (needs a classifier trained "
       "with a loss head)",
       "Using Deep Image Priors to Generate Counterfactual Explanations", inversion("dip-aux")},
      {"disc", "counterfactual",
       "DISC: DIP (or INR) prior + feature and manifold consistency, progressive stages",
       "Designing Counterfactual Generators using Deep Model Inversion", inversion("disc")},
      {"latent", "counterfactual",
       "contrastive attribute edits in a generator's latent space (shift predictor S(w, t)); "
       "the edit that best reaches the target is the counterfactual",
       "Explaining Image Classifiers Using Contrastive Counterfactuals in Generative Latent "
       "Spaces",
       [](const nlohmann::json& j) -> std::unique_ptr<Method> {
         return std::make_unique<LatentCounterfactual>(LatentOptions::from_json(j));
       }},
      {"aip", "counterfactual",
       "AIP: optimise the latent z and relaxed attributes a of an attribute-conditional VAE "
       "G(z, a) from z0 = E(x), a0 = D(x); reports which attributes changed",
       "Generative Counterfactuals for Neural Networks via Attribute-Informed Perturbation",
       [](const nlohmann::json& j) -> std::unique_ptr<Method> {
         return std::make_unique<AipCounterfactual>(AipOptions::from_json(j));
       }},
      {"fido", "saliency",
       "FIDO: smallest region that, kept, preserves the decision (SSR); others in-filled "
       "by a generative inpainter (objective=sdr: smallest destroying region)",
       "Explaining Image Classifiers by Counterfactual Generation", fido("fido")},
      {"fido-sdr", "saliency", "FIDO with the smallest destroying region objective (SDR)",
       "Explaining Image Classifiers by Counterfactual Generation", fido("fido-sdr")},
      {"bbmp", "saliency", "BBMP: a deterministic mask whose blurring destroys the decision",
       "Fong & Vedaldi, meaningful perturbations (FIDO's baseline, METHODS.md §2)", fido("bbmp")},
      {"gradient", "saliency", "vanilla gradient: |d log p_c / dx|, max over channels",
       "Simonyan et al. (comparison baseline)",
       [](const nlohmann::json& j) -> std::unique_ptr<Method> {
         return std::make_unique<GradientSaliency>(GradientOptions::from_json(j));
       }},
      {"occlusion", "saliency", "occlusion: drop of p_c when a square is in-filled (mean)",
       "Zeiler & Fergus (comparison baseline)",
       [](const nlohmann::json& j) -> std::unique_ptr<Method> {
         return std::make_unique<OcclusionSaliency>(OcclusionOptions::from_json(j));
       }},
  };
  return registry;
}

nlohmann::json method_registry_json() {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& m : method_registry())
    j.push_back({{"name", m.name},
                 {"kind", m.kind},
                 {"description", m.description},
                 {"paper", m.paper},
                 {"defaults", m.make(nlohmann::json::object())->config()["options"]}});
  return j;
}

const MethodInfo& method_info(const std::string& name) {
  for (const auto& m : method_registry())
    if (m.name == name) return m;
  std::string known;
  for (const auto& m : method_registry()) known += (known.empty() ? "" : ", ") + m.name;
  fail("unknown method '", name, "'; known: ", known, " (see ",
       for_surface("`cfx methods`", "cfx.methods()"), ")");
}

std::unique_ptr<Method> make_method(const std::string& name, const nlohmann::json& options) {
  return method_info(name).make(options);
}

}  // namespace cfx
