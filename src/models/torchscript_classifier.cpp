#include "cfx/models/torchscript_classifier.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "cfx/core/batch_invariance.h"
#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/core/memory.h"
#include "cfx/core/surface.h"

namespace cfx {

namespace jit = torch::jit;

namespace {

// ---------------------------------------------------------------------------------------------
// Messages

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// One line out of a LibTorch message: the first line, or for TorchScript interpreter errors
// (which start with a traceback) the last line, which holds the actual error. A leading
// Python exception class ("RuntimeError: ") is dropped.
std::string one_line(const std::string& msg) {
  std::vector<std::string> lines;
  std::istringstream in(msg);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.empty()) return "unknown error";
  std::string line = lines.front();
  if (starts_with(line, "The following operation failed in the TorchScript interpreter") ||
      starts_with(line, "Traceback of TorchScript"))
    line = lines.back();
  size_t colon = line.find(": ");
  if (colon != std::string::npos && colon > 0) {
    std::string head = line.substr(0, colon);
    bool is_class = head.find(' ') == std::string::npos &&
                    (head.size() > 5 && (head.rfind("Error") == head.size() - 5 ||
                                         head.rfind("Exception") + 9 == head.size()));
    if (is_class) line = line.substr(colon + 2);
  }
  return line;
}

std::string message_of(const std::exception& e) {
  if (auto* c10e = dynamic_cast<const c10::Error*>(&e))
    return one_line(c10e->what_without_backtrace());
  return one_line(e.what());
}

// "tuple", "dict", "list", ... for messages about what forward returned.
std::string kind_name(const c10::IValue& v) {
  if (v.isTuple()) return "tuple";
  if (v.isGenericDict()) return "dict";
  if (v.isList()) return "list";
  if (v.isNone()) return "None";
  std::string k = v.tagKind();
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return k;
}

std::string shape_str(c10::IntArrayRef s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Metadata

}  // namespace

TorchScriptMeta parse_torchscript_meta(const std::string& path, const std::string& text) {
  TorchScriptMeta m;
  if (trim(text).empty()) return m;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail("cfx.json in ", path, " is not valid JSON: ", one_line(e.what()));
  }
  CFX_CHECK(j.is_object(), "cfx.json in ", path, " must be a JSON object");
  auto field = [&](const char* key) -> const nlohmann::json* {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  };
  if (auto* v = field("input_shape")) {
    CFX_CHECK(v->is_array() && v->size() == 3, "cfx.json in ", path,
              ": input_shape must be [C, H, W], got ", v->dump());
    for (auto& d : *v) {
      CFX_CHECK(d.is_number_integer() && d.get<int64_t>() > 0, "cfx.json in ", path,
                ": input_shape must hold three positive integers, got ", v->dump());
      m.input_shape.push_back(d.get<int64_t>());
    }
  }
  if (auto* v = field("classes")) {
    CFX_CHECK(v->is_array(), "cfx.json in ", path, ": classes must be a list of names");
    for (auto& c : *v) {
      if (c.is_string())
        m.classes.push_back(c.get<std::string>());
      else if (c.is_number())
        m.classes.push_back(c.dump());
      else
        fail("cfx.json in ", path, ": classes must be a list of names, got ", c.dump());
    }
  }
  for (auto [key, out] : {std::pair<const char*, std::vector<double>*>{"mean", &m.mean},
                          std::pair<const char*, std::vector<double>*>{"std", &m.std}}) {
    if (auto* v = field(key)) {
      if (v->is_number()) {
        out->push_back(v->get<double>());
        continue;
      }
      CFX_CHECK(v->is_array(), "cfx.json in ", path, ": ", key, " must be a list of numbers");
      for (auto& d : *v) {
        CFX_CHECK(d.is_number(), "cfx.json in ", path, ": ", key,
                  " must be a list of numbers, got ", v->dump());
        out->push_back(d.get<double>());
      }
    }
  }
  if (auto* v = field("dataset"); v && v->is_string()) m.dataset = v->get<std::string>();
  return m;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Graph analysis

// A value of the inlined forward graph, by position, so that it can be found again in a copy:
// node < 0 means graph input `output`, else output `output` of the node-th top-level node.
struct Site {
  int node = -1;
  int output = 0;
  bool needs_clone = false;  // written in place later: capture a copy made right away
  bool operator<(const Site& o) const {
    return std::tie(node, output) < std::tie(o.node, o.output);
  }
};

struct BNSite {
  std::string name;
  std::vector<std::string> mean_path, var_path;  // attribute paths of the running stats
  Site input;
};

// The attribute path from the root module (graph input 0) to `v`, if `v` is reached by a
// chain of prim::GetAttr from it.
std::optional<std::vector<std::string>> attr_path(const jit::Value* v, const jit::Value* self) {
  std::vector<std::string> parts;
  while (v != self) {
    const jit::Node* n = v->node();
    if (n->kind() != c10::prim::GetAttr) return std::nullopt;
    parts.push_back(n->s(c10::attr::name));
    v = n->input(0);
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

// Like attr_path, also looking through prim::If (scripted BatchNorm passes its running stats
// as `self.running_mean if not self.training or ... else None`).
std::optional<std::vector<std::string>> attr_path_through_if(const jit::Value* v,
                                                             const jit::Value* self) {
  if (auto p = attr_path(v, self)) return p;
  const jit::Node* n = v->node();
  if (n->kind() != c10::prim::If) return std::nullopt;
  for (const jit::Block* b : n->blocks())
    if (auto p = attr_path_through_if(b->outputs().at(v->offset()), self)) return p;
  return std::nullopt;
}

std::string join(const std::vector<std::string>& parts, size_t n) {
  std::string s;
  for (size_t i = 0; i < n && i < parts.size(); ++i) s += (i ? "." : "") + parts[i];
  return s;
}

// Module path of a node from its inlined call stack ("" if it has none).
std::string callstack_path(const jit::Node* n) {
  auto cs = n->callstack();
  if (!cs) return "";
  std::vector<std::string> parts;
  for (auto& entry : (*cs)->vec()) {
    const auto& info = std::get<2>(entry);
    if (!info) continue;
    std::string name = info->instance_name();
    if (name.empty() || name == "SELF" || name == "INSTANCE_NAME_UNKNOWN") continue;
    parts.push_back(name);
  }
  return join(parts, parts.size());
}

bool is_tensor(const jit::Value* v) { return v->type()->cast<c10::TensorType>() != nullptr; }

// Names given to graph values: for each value, the module paths whose forward returned it.
using ValueNames = std::unordered_map<jit::Value*, std::vector<std::string>>;

// Inlines every function and method call of the top-level block of `g`, one call at a time,
// naming the values that submodules' forward methods return by their attribute path.
// (torch::jit::Inline would do the inlining, but loses which value a call returned.)
// Calls inside if/loop bodies are left alone: their values cannot become graph outputs.
void inline_and_name(jit::Graph& g, ValueNames& names) {
  jit::Value* self = g.inputs().at(0);
  jit::Block* b = g.block();
  for (jit::Node* n = b->nodes().front(); n != b->return_node();) {
    jit::Node* next = n->next();
    jit::GraphFunction* callee = nullptr;
    std::string path;
    if (n->kind() == c10::prim::CallMethod) {
      if (auto cls = n->input(0)->type()->cast<c10::ClassType>()) {
        if (auto* m = cls->findMethod(n->s(c10::attr::name))) callee = jit::tryToGraphFunction(*m);
        if (callee && n->s(c10::attr::name) == "forward" && cls->is_module()) {
          if (auto parts = attr_path(n->input(0), self)) path = join(*parts, parts->size());
        }
      }
    } else if (n->kind() == c10::prim::CallFunction) {
      if (auto fn_type = n->input(0)->type()->cast<c10::FunctionType>()) {
        callee = jit::tryToGraphFunction(*fn_type->function());
        if (callee) n->removeInput(0);
      }
    }
    if (callee == nullptr) {
      n = next;
      continue;
    }
    callee->ensure_defined();
    std::vector<std::vector<std::string>> out_names(n->outputs().size());
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      auto it = names.find(n->output(i));
      if (it != names.end()) {
        out_names[i] = std::move(it->second);
        names.erase(it);
      }
      if (!path.empty()) out_names[i].push_back(path);
    }
    jit::Node* prev = n->prev();
    auto outs = jit::inlineCallTo(n, callee, callee->graph().get());
    for (size_t i = 0; i < outs.size() && i < out_names.size(); ++i) {
      auto& dst = names[outs[i]];
      dst.insert(dst.end(), out_names[i].begin(), out_names[i].end());
    }
    n = prev->next();  // continue with the inlined body (it may hold further calls)
  }
}

// Unique name: "x", then "x@1", "x@2", ... for repeats (a module called twice).
std::string unique_name(const std::string& base, std::set<std::string>& used) {
  std::string name = base;
  for (int k = 1; used.count(name); ++k) name = base + "@" + std::to_string(k);
  used.insert(name);
  return name;
}

// The tensor attribute of `root` at `path` (undefined if there is none).
torch::Tensor tensor_attr(const jit::Module& root, const std::vector<std::string>& path) {
  if (path.empty()) return {};
  c10::IValue v = root._ivalue();
  for (const auto& part : path) {
    if (!v.isObject()) return {};
    auto obj = v.toObject();
    auto slot = obj->type()->findAttributeSlot(part);
    if (!slot) return {};
    v = obj->getSlot(*slot);
  }
  return v.isTensor() ? v.toTensor() : torch::Tensor();
}

}  // namespace

// -------------------------------------------------------------------------------------------------

struct TorchScriptClassifier::Impl {
  std::string path;
  jit::Module module;
  torch::Device device{torch::kCPU};

  // Inlined forward graph and what was found in it.
  std::shared_ptr<jit::Graph> graph;
  std::vector<std::string> feature_names;  // forward order
  std::map<std::string, Site> features;
  std::vector<BNSite> bns;

  // Instrumented functions, one per requested set of sites.
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<jit::GraphFunction>> functions;

  void analyse();
  std::shared_ptr<jit::GraphFunction> instrumented(const std::vector<Site>& sites);
  std::vector<torch::Tensor> run_instrumented(const std::vector<Site>& sites,
                                              const torch::Tensor& xn);
  std::string failure(const torch::Tensor& x) const {
    return str("model ", path, " failed on input of shape ", shape_str(x.sizes()), ": ");
  }
};

void TorchScriptClassifier::Impl::analyse() {
  auto method = module.find_method("forward");
  CFX_CHECK(method.has_value(), "model ", path, " has no forward method");
  graph = method->graph()->copy();
  CFX_CHECK(graph->outputs().size() == 1 && !graph->inputs().empty(), "model ", path,
            ": unexpected forward graph");
  ValueNames names;
  inline_and_name(*graph, names);

  jit::Block* b = graph->block();
  jit::Value* self = graph->inputs().at(0);
  std::unordered_map<const jit::Node*, int> index;
  std::vector<jit::Node*> nodes;
  for (jit::Node* n : b->nodes()) {
    index[n] = static_cast<int>(nodes.size());
    nodes.push_back(n);
  }
  jit::AliasDb alias(graph);
  auto site_of = [&](jit::Value* v) {
    Site s;
    if (v->node()->kind() == c10::prim::Param) {
      s.node = -1;
      s.output = static_cast<int>(v->offset());
    } else {
      s.node = index.at(v->node());
      s.output = static_cast<int>(v->offset());
    }
    s.needs_clone = alias.hasWriters(v);
    return s;
  };
  auto in_top_block = [&](jit::Value* v) { return v->node()->owningBlock() == b; };

  // Features named by module path: ordered by where the value is produced; a value that
  // several nested modules return lists the innermost first.
  std::vector<std::pair<Site, std::vector<std::string>>> named;
  for (auto& [v, list] : names) {
    if (list.empty() || !in_top_block(v) || !is_tensor(v)) continue;
    auto sorted = list;
    std::stable_sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& c) {
      return std::count(a.begin(), a.end(), '.') > std::count(c.begin(), c.end(), '.');
    });
    named.emplace_back(site_of(v), sorted);
  }
  std::sort(named.begin(), named.end(),
            [](const auto& a, const auto& c) { return a.first < c.first; });
  std::set<std::string> used;
  for (auto& [site, list] : named)
    for (auto& name : list) {
      if (used.count(name)) continue;  // a module called twice keeps its first output
      used.insert(name);
      feature_names.push_back(name);
      features[name] = site;
    }
  if (feature_names.empty()) {
    // No submodule calls (already inlined / frozen module): name by node kind and index.
    std::map<std::string, int> counts;
    for (jit::Node* n : nodes) {
      if (n->kind().is_prim()) continue;
      std::string kind = n->kind().toQualString();
      int k = counts[kind]++;
      for (size_t i = 0; i < n->outputs().size(); ++i) {
        if (!is_tensor(n->output(i))) continue;
        std::string name = kind + "#" + std::to_string(k) + (i ? "." + std::to_string(i) : "");
        feature_names.push_back(name);
        features[name] = site_of(n->output(i));
      }
    }
  }

  // Batch-norm layers.
  std::set<std::string> bn_used;
  int bn_count = 0;
  for (jit::Node* n : nodes) {
    if (n->kind() != c10::aten::batch_norm) continue;
    BNSite bn;
    // aten::batch_norm(input, weight, bias, running_mean, running_var, training, ...)
    auto mean = attr_path_through_if(n->input(3), self);
    auto var = attr_path_through_if(n->input(4), self);
    std::vector<std::string> owner;  // the module holding the layer's parameters
    for (size_t i : {3, 4, 1, 2}) {
      if (auto parts = attr_path_through_if(n->input(i), self); parts && parts->size() > 1) {
        owner.assign(parts->begin(), parts->end() - 1);
        break;
      }
    }
    std::string name = join(owner, owner.size());
    if (name.empty()) name = callstack_path(n);
    if (name.empty()) name = "batch_norm#" + std::to_string(bn_count);
    ++bn_count;
    if (mean && var) {
      bn.mean_path = *mean;
      bn.var_path = *var;
    } else if (!owner.empty()) {
      bn.mean_path = bn.var_path = owner;
      bn.mean_path.push_back("running_mean");
      bn.var_path.push_back("running_var");
    }
    if (!tensor_attr(module, bn.mean_path).defined() ||
        !tensor_attr(module, bn.var_path).defined()) {
      notice(str("model ", path, ": batch-norm layer ", name,
                 " has no running statistics that cfx can find; it is not listed"));
      continue;
    }
    bn.name = unique_name(name, bn_used);
    bn.input = site_of(n->input(0));
    bns.push_back(bn);
  }
}

std::shared_ptr<jit::GraphFunction> TorchScriptClassifier::Impl::instrumented(
    const std::vector<Site>& sites) {
  std::string key;
  for (auto& s : sites) key += std::to_string(s.node) + ":" + std::to_string(s.output) + ",";
  std::lock_guard<std::mutex> lock(mutex);
  auto it = functions.find(key);
  if (it != functions.end()) return it->second;

  auto g = graph->copy();
  std::vector<jit::Node*> nodes(g->block()->nodes().begin(), g->block()->nodes().end());
  std::vector<jit::Value*> outs{g->outputs().at(0)};
  for (auto& s : sites) {
    jit::Value* v = s.node < 0 ? g->inputs().at(s.output) : nodes.at(s.node)->output(s.output);
    if (s.needs_clone) {
      jit::WithInsertPoint guard(v->node()->next());
      v = g->insert(c10::aten::clone, {v});
    }
    outs.push_back(v);
  }
  g->eraseOutput(0);
  {
    jit::WithInsertPoint guard(g->return_node());
    g->registerOutput(g->insertNode(g->createTuple(outs))->output());
  }
  auto fn = std::make_shared<jit::GraphFunction>("cfx_capture_" + std::to_string(functions.size()),
                                                 g, nullptr, jit::ExecutorExecutionMode::SIMPLE);
  functions[key] = fn;
  return fn;
}

std::vector<torch::Tensor> TorchScriptClassifier::Impl::run_instrumented(
    const std::vector<Site>& sites, const torch::Tensor& xn) {
  auto fn = instrumented(sites);
  jit::Stack stack{module._ivalue(), xn};
  fn->run(stack);
  CFX_ASSERT(stack.size() == 1 && stack[0].isTuple());
  auto elems = stack[0].toTupleRef().elements();
  CFX_ASSERT(elems.size() == sites.size() + 1);
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < elems.size(); ++i) {
    if (i == 0 && !elems[i].isTensor())
      fail("model ", path, " must return one [N, num_classes] tensor of logits, got a ",
           kind_name(elems[i]));
    out.push_back(elems[i].toTensor());
  }
  return out;
}

// -------------------------------------------------------------------------------------------------

TorchScriptClassifier::TorchScriptClassifier(const std::string& path,
                                             const ClassifierOverrides& overrides)
    : impl_(std::make_unique<Impl>()) {
  namespace fs = std::filesystem;
  auto& m = *impl_;
  m.path = path;
  std::error_code ec;
  CFX_CHECK(fs::exists(path, ec), "model file not found: ", path);
  CFX_CHECK(!fs::is_directory(path, ec), "cannot load model ", path,
            ": it is a folder, expected a TorchScript archive (.pt)");
  jit::ExtraFilesMap extra{{"cfx.json", ""}};
  try {
    m.module = jit::load(path, torch::Device(torch::kCPU), extra);
  } catch (const std::exception& e) {
    std::string why = message_of(e);
    if (why.find("not a ZIP archive") != std::string::npos ||
        why.find("failed reading zip archive") != std::string::npos ||
        why.find("central directory") != std::string::npos)
      fail("cannot load model ", path, ": not a TorchScript archive or cfx checkpoint");
    if (why.find("constants.pkl") != std::string::npos)
      fail("cannot load model ", path,
           ": a PyTorch file but not TorchScript (saved with torch.save?); export the model "
           "with torch.jit.script or torch.jit.trace");
    fail("cannot load model ", path, ": ", why);
  }
  auto forward = m.module.find_method("forward");
  CFX_CHECK(forward.has_value(), "cannot load model ", path,
            ": the TorchScript module has no forward method");
  {
    const auto& args = forward->function().getSchema().arguments();
    size_t required = 0;
    for (size_t i = 1; i < args.size(); ++i) required += !args[i].default_value().has_value();
    CFX_CHECK(args.size() >= 2 && required <= 1, "cannot load model ", path,
              ": forward must take one argument (images [N, C, H, W]), but its signature is ",
              forward->function().getSchema());
  }

  TorchScriptMeta meta = parse_torchscript_meta(path, extra["cfx.json"]);
  if (!overrides.input_shape.empty()) meta.input_shape = overrides.input_shape;
  if (!overrides.class_names.empty()) meta.classes = overrides.class_names;
  if (!overrides.mean.empty()) meta.mean = overrides.mean;
  if (!overrides.std.empty()) meta.std = overrides.std;
  if (meta.input_shape.empty() && overrides.input_shape_fallback) {
    meta.input_shape = overrides.input_shape_fallback();
    if (!meta.input_shape.empty())
      notice("model " + path + " does not say its input shape; using " +
             shape_str(meta.input_shape) + ", the query images' (cfx.json in the archive or " +
             option("input-shape") + " would say it)");
  }
  CFX_CHECK(!meta.input_shape.empty(), "model ", path,
            " does not say its input shape: add cfx.json to the archive "
            "(_extra_files={\"cfx.json\": ...} in torch.jit.save) or pass ",
            option("input-shape", "C,H,W", "(C, H, W)"));
  CFX_CHECK(
      meta.input_shape.size() == 3 && std::all_of(meta.input_shape.begin(), meta.input_shape.end(),
                                                  [](int64_t d) { return d > 0; }),
      "model ", path, ": input shape must be three positive integers C,H,W, got ",
      shape_str(meta.input_shape));
  const int64_t c = meta.input_shape[0];
  for (auto [key, v] : {std::pair<const char*, const std::vector<double>*>{"mean", &meta.mean},
                        std::pair<const char*, const std::vector<double>*>{"std", &meta.std}}) {
    CFX_CHECK(v->empty() || v->size() == 1 || static_cast<int64_t>(v->size()) == c, "model ", path,
              ": ", key, " has ", v->size(), " values, expected 1 or ", c, " (one per channel)");
  }
  for (double s : meta.std) CFX_CHECK(s > 0, "model ", path, ": std values must be > 0");

  info_.arch = "torchscript";
  info_.source = overrides.source.empty() ? path : overrides.source;
  info_.input_shape = meta.input_shape;
  info_.mean = meta.mean;
  info_.std = meta.std;
  info_.dataset = meta.dataset;

  m.module.eval();
  for (auto p : m.module.parameters()) p.set_requires_grad(false);

  // Probe: a forward pass on zeros tells the number of classes and checks the output. Its
  // input and the normalised copy alone must fit: a mistyped shape is refused here rather
  // than left to swap or to the kernel's OOM killer.
  const double probe_bytes = 2.0 * 2.0 * sizeof(float) * static_cast<double>(meta.input_shape[0]) *
                             static_cast<double>(meta.input_shape[1]) *
                             static_cast<double>(meta.input_shape[2]);
  check_memory_fits(
      probe_bytes,
      str("model ", path, ": a probe with two inputs of shape ", shape_str(meta.input_shape)),
      str("is the input shape right? (set it with ", option("input-shape", "C,H,W", "(C, H, W)"),
          ")"));
  auto zeros = torch::zeros({2, meta.input_shape[0], meta.input_shape[1], meta.input_shape[2]});
  c10::IValue out;
  try {
    torch::NoGradGuard no_grad;
    out = m.module.forward({normalize(zeros)});
  } catch (const std::exception& e) {
    const std::string why = message_of(e);
    CFX_CHECK(!is_out_of_memory(why), "model ", path,
              " ran out of memory on a zero input of shape ", shape_str(zeros.sizes()),
              "; is the input shape right? (set it with ",
              option("input-shape", "C,H,W", "(C, H, W)"), ")");
    fail("model ", path, " failed on a zero input of shape ", shape_str(zeros.sizes()),
         " (is the input shape right? set it with ", option("input-shape", "C,H,W", "(C, H, W)"),
         "): ", why);
  }
  CFX_CHECK(out.isTensor(), "model ", path,
            " must return one [N, num_classes] tensor of logits, but forward returns a ",
            kind_name(out));
  auto y = out.toTensor();
  CFX_CHECK(y.dim() == 2 && y.size(0) == 2, "model ", path,
            " must return logits of shape [N, num_classes], but returns ", shape_str(y.sizes()),
            " for an input of shape ", shape_str(zeros.sizes()));
  const int64_t k = y.size(1);
  CFX_CHECK(y.is_floating_point(), "model ", path, " returns ", y.scalar_type(),
            " logits; they must be floating point");
  CFX_CHECK(k >= 2, "model ", path, " outputs ", k,
            " logit per image; a classifier needs at least 2 classes, one logit each");
  if (meta.classes.empty()) {
    for (int64_t i = 0; i < k; ++i) meta.classes.push_back(std::to_string(i));
  }
  CFX_CHECK(static_cast<int64_t>(meta.classes.size()) == k, "model ", path, " outputs ", k,
            " logits but ", meta.classes.size(), " class names were given");
  info_.class_names = meta.classes;

  // Instrumentation: find features and batch-norm layers, then keep the features that are
  // activations [N, ...] of at least two dimensions.
  try {
    m.analyse();
    std::vector<Site> sites;
    for (auto& name : m.feature_names) sites.push_back(m.features.at(name));
    torch::NoGradGuard no_grad;
    auto values = m.run_instrumented(sites, normalize(zeros));
    std::vector<std::string> kept;
    for (size_t i = 0; i < m.feature_names.size(); ++i) {
      const auto& t = values[i + 1];
      if (t.dim() >= 2 && t.size(0) == 2)
        kept.push_back(m.feature_names[i]);
      else
        m.features.erase(m.feature_names[i]);
    }
    m.feature_names = kept;
  } catch (const std::exception& e) {
    notice(str("cannot instrument the forward graph of ", path,
               "; features and batch-norm inputs are unavailable: ", message_of(e)));
    m.feature_names.clear();
    m.features.clear();
    m.bns.clear();
  }
  std::lock_guard<std::mutex> lock(m.mutex);
  m.functions.clear();  // the probe's function is not needed again
}

TorchScriptClassifier::~TorchScriptClassifier() = default;

torch::jit::Module& TorchScriptClassifier::module() { return impl_->module; }

torch::Tensor TorchScriptClassifier::logits(const torch::Tensor& x) {
  check_input(x);
  c10::IValue out;
  try {
    out = impl_->module.forward({normalize(as_two_rows(x))});
  } catch (const std::exception& e) {
    fail(impl_->failure(x), message_of(e));
  }
  CFX_CHECK(out.isTensor(), "model ", impl_->path,
            " must return one [N, num_classes] tensor of logits");
  return from_two_rows(out.toTensor(), x);
}

Capture TorchScriptClassifier::capture(const torch::Tensor& x,
                                       const std::vector<std::string>& feature_layers,
                                       bool bn_inputs) {
  auto& m = *impl_;
  std::vector<Site> sites;
  for (auto& name : feature_layers) {
    auto it = m.features.find(name);
    if (it == m.features.end()) {
      std::string known;
      for (size_t i = 0; i < m.feature_names.size() && i < 8; ++i)
        known += (i ? ", " : "") + m.feature_names[i];
      if (m.feature_names.size() > 8) known += ", ...";
      fail("unknown layer '", name, "' of model ", m.path,
           m.feature_names.empty() ? std::string(" (it has no capturable layers)")
                                   : " (known layers: " + known + ")");
    }
    sites.push_back(it->second);
  }
  if (bn_inputs)
    for (auto& bn : m.bns) sites.push_back(bn.input);
  check_input(x);
  Capture cap;
  if (sites.empty()) {
    cap.logits = logits(x);
    return cap;
  }
  std::vector<torch::Tensor> values;
  try {
    values = m.run_instrumented(sites, normalize(as_two_rows(x)));
  } catch (const cfx::Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(m.failure(x), message_of(e));
  }
  cap.logits = values[0];
  for (size_t i = 0; i < feature_layers.size(); ++i)
    cap.features[feature_layers[i]] = values[i + 1];
  if (bn_inputs)
    for (size_t i = 0; i < m.bns.size(); ++i)
      cap.bn_inputs[m.bns[i].name] = values[1 + feature_layers.size() + i];
  return from_two_rows(std::move(cap), x);
}

std::vector<std::string> TorchScriptClassifier::feature_layers() const {
  return impl_->feature_names;
}

std::vector<BNLayer> TorchScriptClassifier::bn_layers() const {
  std::vector<BNLayer> out;
  for (auto& bn : impl_->bns) {
    out.push_back(BNLayer{bn.name, tensor_attr(impl_->module, bn.mean_path),
                          tensor_attr(impl_->module, bn.var_path)});
  }
  return out;
}

std::vector<torch::Tensor> TorchScriptClassifier::weights() {
  std::vector<torch::Tensor> w;
  for (const auto& p : impl_->module.parameters()) w.push_back(p);
  return w;
}

int64_t TorchScriptClassifier::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : impl_->module.parameters()) n += p.numel();
  return n;
}

void TorchScriptClassifier::to(torch::Device device) {
  if (device == impl_->device) return;
  impl_->module.to(device);
  impl_->device = device;
}

torch::Device TorchScriptClassifier::device() const { return impl_->device; }

std::shared_ptr<Classifier> load_torchscript_classifier(const std::string& path,
                                                        const ClassifierOverrides& overrides) {
  return std::make_shared<TorchScriptClassifier>(path, overrides);
}

}  // namespace cfx
