// The attribute-conditional VAE of AIP (METHODS.md §4): encoder E(x, a) → z, decoder G(z, a),
// and a frozen attribute classifier D (a `cfx train attributes` model) that reads the
// attributes a0 = D(x) of an image and, during training, checks that G(z, a') shows a'.
// `cfx train cvae` writes one checkpoint (kind "cvae") whose sidecar names its D.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cfx/data/dataset.h"
#include "cfx/models/attributes.h"
#include "cfx/models/vae.h"

namespace cfx {

struct CvaeTrainOptions {
  int64_t epochs = 12;           // passes over the training images
  int64_t batch_size = 64;       // items per step
  double lr = 1e-3;              // Adam learning rate
  double beta = 0.25;            // weight of the KL term (1: the ELBO)
  double attribute_weight = 20;  // weight of the attribute-consistency term BCE(D(G(z, a')), a')
  double single = 0;             // share of requests a' that change one unit of D(x) (an exclusive
                                 // group moves to another member, a lone attribute flips) and keep
                                 // the rest; the others take another item's attributes (0..1)
  double fractional = 0;         // share of requests moved only part of the way, a0 + u(a' − a0)
                                 // with u ~ U(0, 1), D's target being that fractional code: AIP
                                 // searches inside the cube, where G is otherwise untrained (0..1)
  double adversary = 0;          // weight of the z-adversary: an MLP trained beside E to read D(x)
                         // from z, and E pushed to make it answer 0.5 (z free of attributes)
  double realism = 0;    // weight of the adversarial realism term: a patch discriminator trained
                         // beside G to tell real images from G's edits G(z, a'), and G pushed to
                         // make its edits pass as real (non-saturating GAN loss; 0: none)
  double critic_lr = 0;  // the realism critic's Adam learning rate (0: lr). Above lr it is the
                         // two time-scale rule of Heusel et al. 2017, meant to keep the critic
                         // ahead of G: the fine-tunes sharpened only where it got ahead. At 4x
                         // (4e-3) it did the opposite: the critic stayed at chance in 3 of 3
                         // seeds and G did not sharpen (docs/models.md)
  double paired = 0;     // weight of the paired-edit term: BCE of G(z, a') against the true edit of
                         // x showing a' (as the reconstruction term; needs train()'s true_edits,
                         // which only generated data has — shapes' renderer; 0: none)
  double corners = 0;    // weight of the corner term (shapes only): each 0/1 edit's polygon
                         // harmonics (shapes_polygon_harmonics) pulled to the requested shape's,
                         // (third − [triangle])² + (fourth − [square])², so G commits to
                         // corners where D accepts blobs (0: none)
  double edges = 0;      // weight of the edge term: the gradient difference (edge_difference)
                         // of the reconstruction G(z, a0) and x, summed over pixels as the
                         // reconstruction term is; BCE lets G soften edges by about a pixel,
                         // which a classifier may read (the shape CNN reads soft corners as a
                         // circle's) (0: none)
  double posterior_noise = 1;  // scale of the reparameterisation noise in z = μ + noise·σ·ε
                               // (1: the ELBO; 0: G trained on E's mean, so it need not
                               // average its drawing over the posterior's jitter — the blur —
                               // at the price of a decoder untrained off the means) (0..1)
  uint64_t seed = 0;           // initialisation, shuffling and the reparameterisation noise
  std::string device = "cpu";  // where to train
  void validate() const;
  nlohmann::json to_json() const;
};

/// The true edits of training images: (index [B] into the training set, requests [B, K] 0/1
/// in D's order, CPU) → (images [B, C, H, W] in [0, 1] showing each item with the requested
/// attributes and nothing else changed, ok [B] bool: false where the request cannot be shown).
/// On shapes the renderer gives them (set_shapes_attributes); no real dataset has them.
using TrueEdits = std::function<std::pair<torch::Tensor, torch::Tensor>(const torch::Tensor&,
                                                                        const torch::Tensor&)>;

class Cvae {
 public:
  /// `attributes`: the K names of D's attributes, in D's order (the conditions of G).
  Cvae(VaeOptions options, std::vector<std::string> attributes);

  /// x: [N, C, H, W] in [0, 1], a: [N, K] in [0, 1]. Returns the posterior mean z [N, L].
  torch::Tensor encode(const torch::Tensor& x, const torch::Tensor& a);
  /// z: [N, L], a: [N, K]. Returns images [N, C, H, W] in [0, 1], differentiable in z and a.
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& a);

  /// Trains E and G against the frozen D on `train`'s images (a = D(x)); returns held-out
  /// numbers on `test`: "test_recon_mse" (per pixel, G(E(x, a0), a0) against x), "test_kl",
  /// "attribute_control": how often D sees in G(z, a') the attribute a' asks for, a' taken
  /// from another test image — overall, on the attributes a' changes, and per attribute;
  /// "leakage": for requests that change one unit of D(x) (see `single`), how many attributes
  /// outside it D reads differently in G(z, a') than in G(z, a0) ("mean_other_flips") and how
  /// often any does ("rate"); "fractional_error": mean |D(G(z, a½)) − a½| on the changed
  /// unit's attributes, a½ halfway from a0 to such a request; "z_adversary_accuracy" (with
  /// `adversary`): how often the adversary reads D(x)'s attributes from held-out z, beside
  /// "z_majority_accuracy", what always answering the commoner value gets; "sharpness": the
  /// mean gradient magnitude (neighbouring-pixel differences) of held-out edits G(z, a') over
  /// that of the real images (1: as sharp as real; a VAE's blur gives less);
  /// "discriminator_accuracy" (with `realism`): how often the patch discriminator's mean
  /// patch score tells held-out real images (> 0) from edits (< 0), 0.5 being chance.
  /// "curve": per epoch, the training means of the loss and of its terms (reconstruction,
  /// kl, attribute; with `realism` also G's realism term and the discriminator's loss; with
  /// `paired` the paired-edit term, over the items that had a true edit). On shapes
  /// "by_pixels" reads the same edits with read_shapes(): control and leakage as the pixels
  /// show them, the reader's agreement on the real images, and "reconstruction_agreement",
  /// G(z, a0) read against the true attributes (can G draw them at all).
  /// Starts from the weights the cvae has (load() one to fine-tune it). `true_edits` is
  /// required by options.paired > 0 and unused otherwise; with it, every request that is 0/1
  /// (not a fractional one) is paired with its true edit.
  nlohmann::json train(const Dataset& train, const Dataset& test, AttributeClassifier& D,
                       const CvaeTrainOptions& options, const TrueEdits& true_edits = {});

  int64_t latent_dim() const { return options_.latent; }
  const std::vector<std::string>& attributes() const { return attributes_; }
  std::vector<int64_t> output_shape() const;
  void to(torch::Device device);
  torch::Device device() const { return device_; }

  /// meta should name D ("attributes", a path relative to the checkpoint's folder).
  void save(const std::string& path, nlohmann::json meta) const;
  /// Loads a checkpoint written by save(); throws cfx::Error naming the path on any problem.
  static std::shared_ptr<Cvae> load(const std::string& path);
  const VaeOptions& options() const { return options_; }
  nlohmann::json meta;  // the sidecar it was loaded from
  std::string source;   // the path it was loaded from

 private:
  VaeOptions options_;
  std::vector<std::string> attributes_;
  std::shared_ptr<torch::nn::Module> net_;
  torch::Device device_ = torch::kCPU;
};

/// Requests [n, K] that change one random unit of `hard` ([n, K] 0/1 attributes as D reads
/// them, CPU) and keep the rest: a unit is one of D's exclusive groups, which moves to another
/// of its members (one-hot), or an attribute in no group, which flips. Also returns the [n, K]
/// bool mask of each request's unit. The cvae's `single` requests and its leakage measure.
std::pair<torch::Tensor, torch::Tensor> one_unit_requests(const torch::Tensor& hard,
                                                          const AttributeClassifier& D,
                                                          at::Generator& gen);

/// The cvae and its attribute classifier D, checked to fit each other and (if given) F.
struct AipModels {
  std::shared_ptr<Cvae> cvae;
  std::shared_ptr<AttributeClassifier> attributes;
  std::string cvae_path, attributes_path;
};

/// Explicit paths win; an empty cvae path means "<dataset>-cvae.pt" beside F; an empty
/// attributes path takes the one recorded in the cvae's sidecar. Throws cfx::Error naming what
/// is missing or does not fit (D's attributes, image shapes).
AipModels load_aip_models(const std::string& cvae, const std::string& attributes,
                          const Classifier* F);

}  // namespace cfx
