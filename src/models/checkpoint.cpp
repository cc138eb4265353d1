#include "cfx/models/checkpoint.h"

#include <filesystem>
#include <sstream>

#include "cfx/config.h"
#include "cfx/core/batch_invariance.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/surface.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx {

namespace {
constexpr const char* kFormat = "cfx-checkpoint";
constexpr int kFormatVersion = 1;

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }
}  // namespace

std::string sidecar_path(const std::string& weights_path) {
  return fs::path(weights_path).replace_extension(".json").string();
}

json read_sidecar(const std::string& weights_path) {
  auto side = sidecar_path(weights_path);
  if (side == weights_path || !is_file(side)) return json();
  json j;
  try {
    j = json::parse(read_file(side));
  } catch (const json::exception& e) {
    fail("checkpoint sidecar ", side, " is not valid JSON: ", e.what());
  }
  if (!j.is_object()) return json();
  // Every reader takes these with json::value(default), which throws nlohmann's type_error
  // (an internal error) when the field has another type (found by fuzz_sidecar).
  for (const char* key : {"format", "kind", "dataset", "arch"})
    CFX_CHECK(!j.contains(key) || j[key].is_string(), "checkpoint sidecar ", side, ": ", key,
              " must be a string, got ", j[key].dump());
  CFX_CHECK(!j.contains("format_version") || j["format_version"].is_number_integer(),
            "checkpoint sidecar ", side, ": format_version must be an integer");
  if (j.value("format", "") != kFormat) return json();
  CFX_CHECK(j.value("format_version", 0) <= kFormatVersion, "checkpoint sidecar ", side,
            " has format_version ", j.value("format_version", 0), "; this cfx reads up to ",
            kFormatVersion, " (upgrade cfx)");
  return j;
}

void write_sidecar(const std::string& weights_path, json meta) {
  meta["format"] = kFormat;
  meta["format_version"] = kFormatVersion;
  meta["cfx_version"] = CFX_VERSION;
  write_atomic(sidecar_path(weights_path), meta.dump(2) + "\n");
}

json read_checkpoint_meta(const std::string& path, const std::string& kind, const std::string& what,
                          const std::string& make) {
  CFX_CHECK(is_file(path), what, " file not found: ", path);
  json meta = read_sidecar(path);
  CFX_CHECK(!meta.is_null(), what, " ", path, " has no cfx sidecar ", sidecar_path(path));
  const bool vowel = !what.empty() && std::string("aeiou").find(what[0]) != std::string::npos;
  CFX_CHECK(meta.value("kind", "") == kind, path, " is a '", meta.value("kind", "?"),
            "' checkpoint, not ", vowel ? "an " : "a ", what, " (make one with `", make, "`)");
  return meta;
}

void save_module(torch::nn::Module& module, const std::string& path) {
  torch::serialize::OutputArchive archive;
  module.save(archive);
  std::ostringstream os;
  archive.save_to(os);
  write_atomic(path, os.str());
}

void load_module(torch::nn::Module& module, const std::string& path) {
  CFX_CHECK(is_file(path), "weights file not found: ", path);
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    module.load(archive);
  } catch (const c10::Error& e) {
    fail("cannot load weights ", path, ": ", first_line(e.what_without_backtrace()),
         " (corrupt file, or weights of another architecture?)");
  }
  // Loaded models are explained or used, not trained: frozen weights spare every method step
  // their gradients (about half of a backward pass) and keep gradients from piling up on
  // them, on whichever device they were made.
  for (auto& p : module.parameters()) p.set_requires_grad(false);
}

json zoo_options_to_json(const ZooOptions& o) {
  return {{"arch", o.arch},
          {"channels", o.channels},
          {"height", o.height},
          {"width", o.width},
          {"num_classes", o.num_classes},
          {"width_mult", o.width_mult},
          {"dropout", o.dropout},
          {"head", o.head}};
}

ZooOptions zoo_options_from_json(const json& j) {
  ZooOptions o;
  try {
    o.arch = j.at("arch").get<std::string>();
    o.channels = j.at("channels").get<int64_t>();
    o.height = j.at("height").get<int64_t>();
    o.width = j.at("width").get<int64_t>();
    o.num_classes = j.at("num_classes").get<int64_t>();
    o.width_mult = j.at("width_mult").get<int64_t>();
    o.dropout = j.value("dropout", o.dropout);
    o.head = j.value("head", o.head);
  } catch (const json::exception& e) {
    fail("checkpoint sidecar has invalid arch_options: ", e.what());
  }
  o.validate();
  return o;
}

NativeClassifier::NativeClassifier(std::shared_ptr<ZooNetImpl> net, ZooOptions options,
                                   ClassifierInfo info)
    : net_(std::move(net)), options_(std::move(options)) {
  info_ = std::move(info);
  net_->eval();
}

torch::Tensor NativeClassifier::logits(const torch::Tensor& x) {
  check_input(x);
  return from_two_rows(net_->forward(normalize(as_two_rows(x))), x);
}

Capture NativeClassifier::capture(const torch::Tensor& x, const std::vector<std::string>& layers,
                                  bool bn_inputs) {
  check_input(x);
  auto known = net_->feature_names();
  Tap tap;
  for (const auto& l : layers) {
    if (std::find(known.begin(), known.end(), l) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      fail("unknown feature layer '", l, "'; this model has: ", list);
    }
    tap.want_features.insert(l);
  }
  tap.want_bn_inputs = bn_inputs;
  // The auxiliary head reads its features from the same forward pass.
  const std::set<std::string> asked = tap.want_features;
  net_->want_head_inputs(tap);
  Capture c;
  c.logits = net_->forward(normalize(as_two_rows(x)), &tap);
  if (options_.head == "duq")
    c.duq = net_->duq_head()->forward(tap.features.at(net_->embedding_name()));
  if (options_.head == "loss") c.loss_estimate = net_->estimate_loss(tap);
  for (auto it = tap.features.begin(); it != tap.features.end();)
    it = asked.count(it->first) ? std::next(it) : tap.features.erase(it);
  c.features = std::move(tap.features);
  c.bn_inputs = std::move(tap.bn_inputs);
  return from_two_rows(std::move(c), x);
}

std::vector<std::string> NativeClassifier::feature_layers() const { return net_->feature_names(); }

std::vector<BNLayer> NativeClassifier::bn_layers() const {
  std::vector<BNLayer> out;
  for (auto& [name, bn] : net_->bn_modules())
    out.push_back({name, bn->running_mean, bn->running_var});
  return out;
}

bool NativeClassifier::has_head(const std::string& name) const {
  return name != "linear" && name == options_.head;
}

std::vector<torch::Tensor> NativeClassifier::weights() { return net_->parameters(); }

int64_t NativeClassifier::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : net_->parameters()) n += p.numel();
  return n;
}

void NativeClassifier::to(torch::Device device) {
  if (device == device_) return;
  net_->to(device);
  device_ = device;
}

json init_from_checkpoint(ZooNetImpl& net, const ZooOptions& options, const std::string& path) {
  json meta = read_sidecar(path);
  const std::string init = option("init");
  CFX_CHECK(!meta.is_null(), init, " ", path, " has no cfx sidecar ", sidecar_path(path));
  CFX_CHECK(meta.value("kind", "") == "classifier", init, " ", path, " is a '",
            meta.value("kind", "?"), "' checkpoint, not a classifier");
  CFX_CHECK(meta.contains("arch_options"), "checkpoint sidecar ", sidecar_path(path),
            " lacks arch_options");
  ZooOptions from = zoo_options_from_json(meta["arch_options"]);
  auto same = [&](const char* field, auto a, auto b) {
    CFX_CHECK(a == b, init, " ", path, " has ", field, " ", a, " but this model needs ", b);
  };
  same("arch", from.arch, options.arch);
  same("channels", from.channels, options.channels);
  same("height", from.height, options.height);
  same("width", from.width, options.width);
  same("num_classes", from.num_classes, options.num_classes);
  same("width_mult", from.width_mult, options.width_mult);
  // Only the linear part is carried over (a head in the checkpoint is ignored: load_module
  // reads just the tensors the linear network has), so any head can start from any model.
  from.head = "linear";
  auto src = make_zoo_net(from);
  load_module(*src, path);
  torch::NoGradGuard no_grad;
  auto dst_params = net.named_parameters(true);
  auto dst_buffers = net.named_buffers(true);
  auto copy = [&](const torch::OrderedDict<std::string, torch::Tensor>& from_dict,
                  torch::OrderedDict<std::string, torch::Tensor>& to_dict) {
    for (const auto& item : from_dict) {
      auto* t = to_dict.find(item.key());
      CFX_CHECK(t && t->sizes() == item.value().sizes(), init, " ", path, ": tensor ", item.key(),
                " does not fit this model");
      t->copy_(item.value());
    }
  };
  copy(src->named_parameters(true), dst_params);
  copy(src->named_buffers(true), dst_buffers);
  return meta;
}

std::shared_ptr<NativeClassifier> load_native_classifier(const std::string& path,
                                                         const ClassifierOverrides& overrides,
                                                         const std::string& kind) {
  json meta = read_sidecar(path);
  CFX_CHECK(!meta.is_null(), "model ", path, " has no cfx sidecar ", sidecar_path(path));
  CFX_CHECK(meta.value("kind", "") == kind, "model ", path, " is a '", meta.value("kind", "?"),
            "' checkpoint, not ", kind == "classifier" ? "a classifier" : "an " + kind + " model");
  CFX_CHECK(meta.contains("arch_options"), "checkpoint sidecar ", sidecar_path(path),
            " lacks arch_options");
  ZooOptions zo = zoo_options_from_json(meta["arch_options"]);
  auto net = make_zoo_net(zo);
  load_module(*net, path);

  ClassifierInfo info;
  info.arch = zo.arch;
  info.source = path;
  info.input_shape = {zo.channels, zo.height, zo.width};
  info.dataset = meta.value("dataset", "");
  try {
    info.class_names = meta.at("classes").get<std::vector<std::string>>();
    info.mean = meta.value("mean", std::vector<double>{});
    info.std = meta.value("std", std::vector<double>{});
  } catch (const json::exception& e) {
    fail("checkpoint sidecar ", sidecar_path(path), " is invalid: ", e.what());
  }
  if (!overrides.input_shape.empty())
    CFX_CHECK(overrides.input_shape == info.input_shape, option("input-shape"), " does not match ",
              path, ", which was trained on [", zo.channels, ",", zo.height, ",", zo.width, "]");
  if (!overrides.class_names.empty()) info.class_names = overrides.class_names;
  if (!overrides.mean.empty()) info.mean = overrides.mean;
  if (!overrides.std.empty()) info.std = overrides.std;
  CFX_CHECK(static_cast<int64_t>(info.class_names.size()) == zo.num_classes, "model ", path,
            " has ", zo.num_classes, " outputs but ", info.class_names.size(), " class names");
  for (const auto* v : {&info.mean, &info.std})
    CFX_CHECK(v->empty() || v->size() == 1 || static_cast<int64_t>(v->size()) == zo.channels,
              "normalisation of ", path, " needs 1 or ", zo.channels, " values, got ", v->size());
  for (double s : info.std) CFX_CHECK(s > 0, "std must be positive, got ", s);
  return std::make_shared<NativeClassifier>(net, zo, info);
}

}  // namespace cfx
