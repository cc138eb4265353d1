// Trainers of the generative models: the VAE and the attribute classifier behind latent
// counterfactuals and causal scores, the shift predictor trained against both, and AIP's
// attribute-conditional VAE (METHODS.md §3–4).
#include <cstdio>
#include <sstream>

#include "cfx/core/error.h"
#include "cfx/core/seed.h"
#include "cfx/core/surface.h"
#include "cfx/data/shapes_scenes.h"
#include "cfx/models/attributes.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/cvae.h"
#include "cfx/models/shifter.h"
#include "cfx/models/train.h"
#include "cfx/models/vae.h"
#include "trainers.h"

using nlohmann::json;

namespace cfx::train_detail {

namespace {

// The VAE architecture of options latent and width, for the images of `train`.
VaeOptions vae_arch(const json& o, const Dataset& train) {
  VaeOptions arch;
  arch.latent = o["latent"];
  arch.width_mult = o["width"];
  arch.decoder = o["decoder"].get<std::string>();
  arch.supersample = o["supersample"];
  arch.channels = train.images.size(1);
  arch.height = train.images.size(2);
  arch.width = train.images.size(3);
  return arch;
}

TrainOutcome train_vae_kind(const json& o, const std::string& out, const std::string& command) {
  const std::string split = o["split"].get<std::string>();
  CFX_CHECK(split == "train" || split == "test", "invalid split '", split, "' (use train or test)");
  auto [train, test] = load_train_data(o);
  // A generator need not see the classifier's data: split test learns from the test split
  // (and is scored on the training split).
  if (split == "test") std::swap(train, test);
  test = test.head(2000);
  const VaeOptions arch = vae_arch(o, train);
  VaeTrainOptions t;
  t.epochs = o["epochs"];
  t.batch_size = o["batch_size"];
  t.lr = o["lr"];
  t.beta = o["beta"];
  t.seed = o["seed"];
  t.device = o["device"].get<std::string>();
  seed_all(t.seed);  // the initial weights are part of what the seed fixes
  auto vae = std::make_shared<Vae>(arch);
  auto report = vae->train(train, test, t);
  TrainOutcome r;
  r.sidecar = data_json(o);
  r.sidecar.update({{"split", split},
                    {"input_shape", {arch.channels, arch.height, arch.width}},
                    {"seed", t.seed},
                    {"train_options", t.to_json()},
                    {"training", report},
                    {"command", command}});
  vae->to(torch::kCPU);
  vae->save(out, r.sidecar);
  std::ostringstream s;
  s << "held-out reconstruction MSE " << report["test_recon_mse"].get<double>() << " per pixel, KL "
    << report["test_kl"].get<double>() << " nats per image\n";
  r.summary = s.str();
  return r;
}

TrainOutcome train_attributes_kind(const json& o, const std::string& out,
                                   const std::string& command) {
  auto [train, test] = load_train_data(o);
  auto targets = attribute_targets(train);
  ZooOptions zo;
  zo.arch = o["arch"].get<std::string>();
  zo.width_mult = o["width"];
  zo.channels = train.images.size(1);
  zo.height = train.images.size(2);
  zo.width = train.images.size(3);
  zo.num_classes = static_cast<int64_t>(targets.names.size());
  zo.head = "linear";
  AttributeTrainOptions t;
  t.epochs = o["epochs"];
  t.batch_size = o["batch_size"];
  t.lr = o["lr"];
  t.seed = o["seed"];
  t.device = o["device"].get<std::string>();
  seed_all(t.seed);
  auto net = make_zoo_net(zo);
  auto [mean, sd] = channel_stats(train.images);
  auto report = train_attribute_classifier(*net, train, test, targets, mean, sd, t);
  net->to(torch::kCPU);
  save_module(*net, out);
  TrainOutcome r;
  r.sidecar = data_json(o);
  r.sidecar.update({{"kind", "attributes"},
                    {"arch", zo.arch},
                    {"arch_options", zoo_options_to_json(zo)},
                    {"input_shape", {zo.channels, zo.height, zo.width}},
                    {"classes", targets.names},
                    {"thresholds", targets.thresholds},
                    {"groups", targets.groups},
                    {"mean", mean},
                    {"std", sd},
                    {"seed", t.seed},
                    {"train_options", t.to_json()},
                    {"training", report},
                    {"command", command}});
  write_sidecar(out, r.sidecar);
  std::ostringstream s;
  s << "held-out accuracy per attribute:";
  for (const auto& name : targets.names)
    s << " " << name << " " << report["test_accuracy"][name].get<double>();
  s << "\n";
  r.summary = s.str();
  return r;
}

TrainOutcome train_shifter_kind(const json& o, const std::string& out, const std::string& command) {
  const std::string generator = o["generator"], attributes = o["attributes"];
  CFX_CHECK(!generator.empty(), "train shifter needs the generator (a cfx VAE or TorchScript)");
  CFX_CHECK(!attributes.empty(),
            "train shifter needs the attribute classifier (cfx or TorchScript)");
  auto G = load_generator(generator);
  auto A = load_attribute_classifier(attributes);
  ShifterOptions arch;
  arch.hidden = o["hidden"];
  arch.latent = G->latent_dim();
  arch.attributes = A->size();
  Shifter S(arch);
  ShifterTrainOptions t;
  t.cycle_weight = o["cycle_weight"];
  t.steps = o["steps"];
  t.batch_size = o["batch_size"];
  t.lr = o["lr"];
  t.beta = o["beta"];
  t.keep_weight = o["keep_weight"];
  t.second = o["second"];
  t.seed = o["seed"];
  t.device = o["device"].get<std::string>();
  t.eval_n = o["eval_n"];
  t.check_every = o["check_every"];
  t.check_n = o["check_n"];
  t.patience = o["patience"];
  t.tolerance = o["tolerance"];
  const std::string data = o["data"];
  // Only --data and --data-seed are the shifter's; the rest keep their defaults.
  json data_opts = o;
  for (const auto& d : data_options())
    if (!data_opts.contains(d.key)) data_opts[d.key] = d.default_value;
  if (!data.empty()) {
    // Latents of real images (train split to learn, test split to score): a VAE's prior
    // samples are often off the data, and edits learnt there need not carry over.
    auto [tr, te] = load_train_data(data_opts);
    auto encode = [&](const Dataset& d, int64_t n) {
      return invert_generator(*G, d.images.slice(0, 0, std::min(n, d.size())), {}).cpu();
    };
    t.latents = encode(tr, 10000);
    t.eval_latents = encode(te, t.eval_n);
  }
  auto report = S.train(*G, *A, t);
  TrainOutcome r;
  // Paths relative to the shifter's folder, so a models folder can move as a whole.
  r.sidecar = {{"generator", relative_to(generator, out)},
               {"latent_data", data.empty() ? json(nullptr) : data_json(data_opts)},
               {"attributes", relative_to(attributes, out)},
               {"attribute_names", A->names()},
               {"seed", t.seed},
               {"train_options", t.to_json()},  // records "latents": "data"
               {"training", report},
               {"command", command}};
  S.to(torch::kCPU);
  S.save(out, r.sidecar);
  const auto& rates = report["flip_rates"];
  std::ostringstream s;
  s << "flip rates on " << rates["samples"].get<int64_t>()
    << (data.empty() ? " fresh latents" : " encoded test images") << " (on / off / others kept):\n";
  // "--" where no sample had the attribute in the state to flip from.
  auto cell = [](const json& v) {
    char buf[16];
    if (v.is_null()) return std::string("  -- ");
    std::snprintf(buf, sizeof buf, "%.3f", v.get<double>());
    return std::string(buf);
  };
  auto row = [&](const std::string& name, const json& on, const json& off, const json& keep) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-18s %s / %s / %s\n", name.c_str(), cell(on).c_str(),
                  cell(off).c_str(), cell(keep).c_str());
    s << buf;
  };
  for (const auto& name : A->names()) {
    const auto& a = rates["attributes"][name];
    row(name, a["on_rate"], a["off_rate"], a["keep_rate"]);
  }
  row("mean", rates["mean_on_rate"], rates["mean_off_rate"], rates["mean_keep_rate"]);
  if (report.contains("steps_taken"))
    s << (report["converged"].get<bool>() ? "flip rates converged after "
                                          : "flip rates had not converged by the cap of ")
      << report["steps_taken"].get<int64_t>() << " steps (" << report["checks"].size()
      << " checks)\n";
  r.summary = s.str();
  return r;
}

// The renderer's true edits of the shapes training images, for `--paired`: each item's scene
// moved to the requested attributes and drawn again with its own background noise.
TrueEdits shapes_true_edits(const json& o, const Dataset& train, const AttributeClassifier& D) {
  CFX_CHECK(D.names() == shapes_attribute_names(), option("paired"),
            " needs an attribute classifier of the 11 shapes attributes in their order");
  ShapesOptions so;
  so.split = "train";
  so.seed = o["data_seed"];
  so.rule = o["shapes_rule"];
  so.size = o["shapes_size"];
  so.count = train.size();  // load_dataset keeps a prefix, item i being scene i
  auto scenes = shapes_scenes(so);
  return [scenes](const torch::Tensor& index, const torch::Tensor& wanted) {
    ShapesScenes batch = scenes;
    batch.scenes = scenes.scenes.index_select(0, index.cpu());
    batch.items = scenes.items.index_select(0, index.cpu());
    auto edited = set_shapes_attributes(batch, wanted);
    auto ok = shapes_scene_attributes(edited).eq(wanted.cpu()).all(1);
    return std::make_pair(render_shapes(edited), ok);
  };
}

TrainOutcome train_cvae_kind(const json& o, const std::string& out, const std::string& command) {
  // The terms that need the shapes renderer, checked before any file is read: the option is
  // wrong whatever the files hold.
  const std::pair<const char*, const char*> shapes_only[] = {
      {"paired", "only generated data has true edits"},
      {"corners", "it pulls edits to the renderer's polygons"}};
  for (const auto& [key, why] : shapes_only)
    CFX_CHECK(o[key].get<double>() == 0 || o["data"] == "shapes", option(key),
              " needs --data shapes: ", why, " (got --data ", o["data"].get<std::string>(), ")");
  std::string attributes = o["attributes"];
  if (attributes.empty()) attributes = "models/" + o["data"].get<std::string>() + "-attributes.pt";
  auto D = load_attribute_classifier(attributes);
  auto [train, test] = load_train_data(o);
  test = test.head(2000);
  auto shape = train.images.sizes().slice(1).vec();
  CFX_CHECK(shape == D->net().input_shape(), "dataset images are ", train.images.sizes(),
            ", but the attribute classifier ", attributes, " reads [N, ", D->net().input_shape()[0],
            ", ", D->net().input_shape()[1], ", ", D->net().input_shape()[2], "]");
  const std::string init = o["init"];
  // Fine-tuning starts from a cvae's weights and keeps its architecture.
  std::shared_ptr<Cvae> cvae = init.empty() ? nullptr : Cvae::load(init);
  const VaeOptions arch = cvae ? cvae->options() : vae_arch(o, train);
  CvaeTrainOptions t;
  t.epochs = o["epochs"];
  t.batch_size = o["batch_size"];
  t.lr = o["lr"];
  t.beta = o["beta"];
  t.attribute_weight = o["attribute_weight"];
  t.single = o["single"];
  t.fractional = o["fractional"];
  t.adversary = o["adversary"];
  t.realism = o["realism"];
  t.critic_lr = o["critic_lr"];
  t.paired = o["paired"];
  t.corners = o["corners"];
  t.edges = o["edges"];
  t.posterior_noise = o["posterior_noise"];
  t.seed = o["seed"];
  t.device = o["device"].get<std::string>();
  t.validate();
  seed_all(t.seed);  // the initial weights are part of what the seed fixes
  CFX_CHECK(t.epochs > 0 || cvae, option("epochs"),
            " 0 only measures a cvae; name the one to measure with ", option("init"));
  if (!cvae) cvae = std::make_shared<Cvae>(arch, D->names());
  CFX_CHECK(cvae->attributes() == D->names(), option("init"), " ", init,
            " was trained with other attributes than ", attributes, " has");
  auto report =
      cvae->train(train, test, *D, t, t.paired > 0 ? shapes_true_edits(o, train, *D) : TrueEdits());
  TrainOutcome r;
  r.sidecar = data_json(o);
  // D's path relative to the cvae's folder, so a models folder can move as a whole.
  r.sidecar.update({{"attributes", relative_to(attributes, out)},
                    {"input_shape", {arch.channels, arch.height, arch.width}},
                    {"seed", t.seed},
                    {"train_options", t.to_json()},
                    {"init", init.empty() ? json() : json(relative_to(init, out))},
                    {"training", report},
                    {"command", command}});
  cvae->to(torch::kCPU);
  cvae->save(out, r.sidecar);
  const auto& ac = report["attribute_control"];
  std::ostringstream s;
  s << "held-out reconstruction MSE " << report["test_recon_mse"].get<double>()
    << " per pixel; attribute control " << ac["all"].get<double>() << " (all), "
    << ac["changed"].dump() << " (attributes the request changes); one-attribute edits change "
    << report["leakage"]["mean_other_flips"].get<double>() << " others on average\n";
  r.summary = s.str();
  return r;
}

}  // namespace

std::vector<Trainer> latent_trainers() {
  const VaeOptions va;
  const VaeTrainOptions vt;
  const ZooOptions zo;
  const AttributeTrainOptions at;
  const ShifterOptions sa;
  const ShifterTrainOptions st;
  const CvaeTrainOptions ct;
  return {
      {"vae", "train a convolutional VAE (the generator of latent-space counterfactuals)",
       with_data({
           {"split", "train",
            "split the generator learns from: train, or test (data the classifier never saw)"},
           {"latent", va.latent, "latent size"},
           {"width", va.width_mult, "channels of the first conv"},
           {"decoder", va.decoder,
            "conv (upsampling) or broadcast (the latent tiled over the pixels, for small objects)"},
           {"supersample", va.supersample,
            "broadcast decoder: draw at this multiple of the resolution and box-average down, as "
            "the shapes renderer antialiases (1..4)"},
           {"epochs", vt.epochs, "passes over the training images"},
           {"batch_size", vt.batch_size, "items per step"},
           {"lr", vt.lr, "Adam learning rate"},
           {"beta", vt.beta, "weight of the KL term (1: the ELBO)"},
           {"seed", vt.seed, "seed for initialisation, shuffling and noise"},
           {"device", vt.device, "cpu or cuda"},
       }),
       train_vae_kind},
      {"attributes",
       "train a multi-label attribute classifier (shapes: its 11 attributes; mnist: stroke "
       "morphometry, fashion-mnist: silhouette morphometry, split at the medians)",
       with_data({
           {"arch", zo.arch, "architecture: cnn, resnet or mlp"},
           {"width", zo.width_mult, "channels of the first stage"},
           {"epochs", at.epochs, "passes over the training set"},
           {"batch_size", at.batch_size, "items per step"},
           {"lr", at.lr, "peak learning rate (AdamW, cosine decay)"},
           {"seed", at.seed, "seed for initialisation and shuffling"},
           {"device", at.device, "cpu or cuda"},
       }),
       train_attributes_kind},
      {"shifter",
       "train the shift predictor S(w, t) -> dw against a frozen generator and attribute "
       "classifier",
       {
           {"generator", "", "generator (cfx VAE or TorchScript); required"},
           {"attributes", "", "attribute classifier (cfx or TorchScript); required"},
           {"data", "",
            "train on the generator's latents of these images (train split; scored on the test "
            "split); default: latents drawn from N(0, I)"},
           {"data_seed", uint64_t{0}, "seed of generated datasets (shapes)"},
           {"cycle_weight", st.cycle_weight,
            "weight of ||E(G(w + dw)) - (w + dw)||^2 (generators with an encoder)"},
           {"hidden", sa.hidden, "width of the hidden layers"},
           {"steps", st.steps, "optimisation steps (fresh latents each)"},
           {"batch_size", st.batch_size, "latents per step"},
           {"lr", st.lr, "Adam learning rate"},
           {"beta", st.beta, "weight of ||dw||"},
           {"keep_weight", st.keep_weight,
            "weight of keeping the attributes not requested (0: don't care)"},
           {"second", st.second, "probability of requesting a second attribute in a sample"},
           {"seed", st.seed, "seed for initialisation, latents and requests"},
           {"device", st.device, "cpu or cuda"},
           {"eval_n", st.eval_n, "fresh latents for the reported flip rates"},
           {"check_every", st.check_every,
            "measure the flip rates every this many steps and stop once they converge "
            "(steps is then the cap); 0: train exactly steps"},
           {"check_n", st.check_n, "held-out latents per check"},
           {"patience", st.patience, "checks without progress before stopping"},
           {"tolerance", st.tolerance,
            "rise of the mean of the on, off and keep rates that counts as progress"},
       },
       train_shifter_kind},
      {"cvae",
       "train an attribute-conditional VAE (encoder E(x, a), decoder G(z, a)) against a frozen "
       "attribute classifier: the generator of AIP counterfactuals",
       with_data({
           {"attributes", "",
            "attribute classifier D, frozen (default: models/<data>-attributes.pt)"},
           {"latent", va.latent, "latent size"},
           {"width", va.width_mult, "channels of the first conv"},
           {"decoder", va.decoder,
            "conv (upsampling) or broadcast (the latent tiled over the pixels, for small objects)"},
           {"supersample", va.supersample,
            "broadcast decoder: draw at this multiple of the resolution and box-average down, as "
            "the shapes renderer antialiases (1..4)"},
           {"epochs", ct.epochs,
            "passes over the training images (0 with --init: measure that cvae only)"},
           {"batch_size", ct.batch_size, "items per step"},
           {"lr", ct.lr, "Adam learning rate"},
           {"beta", ct.beta, "weight of the KL term (1: the ELBO)"},
           {"attribute_weight", ct.attribute_weight,
            "weight of the attribute-consistency term BCE(D(G(z, a')), a')"},
           {"single", ct.single,
            "share of requests that change one attribute (or exclusive group) of D(x) and keep "
            "the rest (0..1)"},
           {"fractional", ct.fractional,
            "share of requests moved only part of the way from D(x), so G obeys codes inside "
            "[0, 1] as AIP's search uses them (0..1)"},
           {"adversary", ct.adversary,
            "weight of the z-adversary that keeps attribute information out of z (0: none)"},
           {"realism", ct.realism,
            "weight of the adversarial realism term: a patch discriminator against G's edits "
            "(0: none)"},
           {"critic_lr", ct.critic_lr,
            "the realism critic's learning rate (0: --lr; above it, meant to keep the critic "
            "ahead of G: at 4x it stayed at chance and nothing sharpened, docs/models.md)"},
           {"paired", ct.paired,
            "weight of the paired-edit term: G(z, a') against the renderer's true edit of the "
            "image (shapes only: real data has no true edits; 0: none)"},
           {"corners", ct.corners,
            "weight of the corner term: each edit's polygon harmonics pulled to the requested "
            "shape's (shapes only; 0: none)"},
           {"edges", ct.edges,
            "weight of the edge term: the reconstruction's neighbour differences pulled to the "
            "image's, so G draws edges as sharp as the data's (0: none)"},
           {"posterior_noise", ct.posterior_noise,
            "scale of the reparameterisation noise (1: the ELBO; 0: G trained on E's means, "
            "so it need not blur over the posterior's jitter)"},
           {"init", "", "start from this cvae checkpoint (fine-tuning; its architecture is kept)"},
           {"seed", ct.seed, "seed for initialisation, shuffling and noise"},
           {"device", ct.device, "cpu or cuda"},
       }),
       train_cvae_kind},
  };
}

}  // namespace cfx::train_detail
