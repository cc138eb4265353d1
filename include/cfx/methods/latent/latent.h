// Contrastive counterfactuals in a generative latent space (METHODS.md §3): an image is encoded
// into the latent space of a generator G that was not trained for the classifier F; the shift
// predictor S turns each attribute the attribute classifier A knows on (or off), and G renders
// the edit (or, with via=code, the edit is made in a cvae's attribute code). Every item gets
// one contrastive counterfactual per attribute, with F's decision before and after; the edit
// that best reaches the item's target class is the counterfactual. Where no single edit reaches the
// target, a refinement (docs/methods.md) searches a request over all edited attributes at once,
// then, if asked, the latent too, and says per item which of these reached the target
// (Result::edits.route).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfx/methods/aip/search.h"
#include "cfx/methods/method.h"
#include "cfx/models/attributes.h"
#include "cfx/models/cvae.h"
#include "cfx/models/generator.h"
#include "cfx/models/shifter.h"

namespace cfx {

/// G, A and S, loaded and checked to fit one another.
struct LatentModels {
  std::shared_ptr<Generator> generator;
  std::shared_ptr<AttributeClassifier> attributes;
  std::shared_ptr<Shifter> shifter;
  std::string generator_path, attributes_path, shifter_path;
};

/// Loads the latent models. Explicit paths win; an empty generator or attributes path takes the
/// one recorded in the shifter's sidecar (relative to the shifter's folder); an empty shifter
/// path means "<dataset>-shifter.pt" beside F (when F is given). With F, also checks that G's
/// images have F's input shape. Throws cfx::Error naming what is missing or does not fit.
LatentModels load_latent_models(const std::string& shifter, const std::string& generator,
                                const std::string& attributes, const Classifier* F);

struct LatentOptions {
  /// Where the edits are made: "shift" (the paper: G's latent, through the shift predictor S)
  /// or "code" (the cvae's attribute code: change a, keep z; docs/methods.md).
  std::string via = "shift";
  std::string shifter;     // via=shift: shift predictor ("": <dataset>-shifter.pt beside F)
  std::string generator;   // via=shift: generator ("": the one the shifter was trained with)
  std::string cvae;        // via=code: conditional VAE ("": <dataset>-cvae.pt beside F)
  std::string attributes;  // attribute classifier ("": the one the shifter or cvae records)
  double strength = 1.0;   // via=shift: scale of the step S(w, t) (1: as trained), > 0
  int64_t steps = 200;     // via=shift: inversion steps for generators without an encoder
  double lr = 0.05;        // its Adam learning rate
  bool refine = false;     // via=shift: also optimise the encoder's latent
  std::string edit;        // attributes to edit, comma-separated ("": every attribute)
  /// The refinement of items whose best single edit misses the target: AIP's search
  /// (aip/search.h) over a request t ∈ [−1, 1]^K of the edited attributes, t = 2a − 1, its ℓ1
  /// prox pulling t to 0 ("don't care"), through x' = G(w + strength·S(w, t)) (via=code: the
  /// code a0 + t). JSON keys
  /// search_steps (0: single edits only, the paper's method), search_lr (on w),
  /// search_attribute_lr, search_alpha (‖w − w0‖²), search_beta (‖t‖₁), search_confidence.
  AipSearchOptions search = default_search();
  bool search_latent = true;  // after the request alone, also move w (route "latent")
  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
  /// Unknown keys and bad values throw cfx::Error.
  static LatentOptions from_json(const nlohmann::json& j);
  /// The refinement's defaults: AIP's, but 100 steps per phase and stopping where F's argmax
  /// is the target (confidence 0, as a single edit counts as valid).
  static AipSearchOptions default_search();
};

/// The image of a request t ([n, K] in [−1, 1], all of the attribute classifier's attributes)
/// from latents w ([n, L]) of the batch rows `rows` ([n] int64), differentiable in w and t.
using LatentRenderFn = std::function<torch::Tensor(const torch::Tensor& w, const torch::Tensor& t,
                                                   const torch::Tensor& rows)>;

/// How an item's latent counterfactual reached its target (AttributeEdits::route).
enum class LatentRoute : int64_t {
  kEdit = 0,     // one attribute edit, as in the paper
  kRequest = 1,  // the refinement's request over several attributes, w = w0
  kLatent = 2,   // the request and a step of w away from w0
  kNone = 3,     // nothing reached it: the counterfactual is the best single edit
};
/// "edit", "request", "latent", "none".
const char* latent_route_name(int64_t route);

class LatentCounterfactual : public Method {
 public:
  explicit LatentCounterfactual(LatentOptions options);
  std::string name() const override { return "latent"; }
  /// Single edits read F's decisions only; the refinement follows F's gradient.
  bool needs_input_gradient() const override { return options_.search.steps > 0; }
  /// It draws nothing, and its runs share the loaded models read-only.
  bool concurrent_runs() const override { return true; }
  nlohmann::json config() const override;
  /// Result::counterfactuals are the chosen edits; Result::edits holds all of them,
  /// Result::reconstruction G(w0) and its error.
  Result run(const Request& request) override;

 private:
  /// The models, loaded by the first run (the default shifter or cvae depends on F).
  const LatentModels& models(const Classifier& F);
  const AipModels& code_models(const Classifier& F);

  /// The refinement: items of `r` whose route is still kNone search a request, then (if
  /// search_latent) w too; sets their counterfactual, request, route and steps. w0: [N, L]
  /// on the device; targets: [N] int64; ks: the edited attributes' indices in A.
  void refine_misses(Classifier& F, const LatentRenderFn& render, int64_t num_attributes,
                     const std::vector<int64_t>& ks, const torch::Tensor& w0,
                     const torch::Tensor& targets, Result& r, const ProgressFn& progress) const;

  LatentOptions options_;
  mutable std::mutex models_mutex_;  // guards models_ (runs may start side by side)
  LatentModels models_;
  AipModels code_models_;
};

}  // namespace cfx
