// The C++ half of the Python package: `cfx._cfx`. Tensors cross as torch tensors (no copy);
// every run releases the GIL; a cfx::Error becomes cfx.Error (a ValueError) with the CLI's
// one line; Ctrl-C stops a run at the next optimisation step with KeyboardInterrupt.
// python/cfx/__init__.py holds the keyword-argument surface; this file stays thin.
#include <pybind11/stl.h>
#include <torch/extension.h>

#include <functional>
#include <optional>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/core/progress.h"
#include "cfx/core/surface.h"
#include "cfx/core/threads.h"
#include "cfx/data/dataset.h"
#include "cfx/data/image_io.h"
#include "cfx/data/inputs.h"
#include "cfx/methods/registry.h"
#include "cfx/models/checkpoint.h"
#include "cfx/models/classifier.h"
#include "cfx/run/eval_job.h"
#include "cfx/run/explain_job.h"
#include "cfx/run/global_job.h"
#include "cfx/run/session.h"
#include "cfx/run/text_job.h"
#include "cfx/run/train_job.h"

namespace py = pybind11;

namespace {

// JSON crosses as text; the Python side parses it with the json module.
nlohmann::json parse_json(const std::string& text, const char* what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  CFX_CHECK(!j.is_discarded(), what, " is not valid JSON");
  return j;
}

// Python's main thread, the only one that sees signals (set when the module loads).
unsigned long python_main_thread = 0;

// Called at every optimisation step with the GIL released: on Python's main thread, take it
// briefly to let Python see Ctrl-C, and stop the run by throwing Python's exception through
// the C++ frames. Elsewhere (a Dask worker's task thread) there is no signal to see, and
// taking the GIL at every step would only add contention: on Python 3.11 before 3.11.9 it
// made Dask's two stack samplers deadlock in sys._current_frames (CPython gh-106883; a
// worker hung for good in CI, docs/distributed.md).
void check_python_signals() {
  if (PyThread_get_thread_ident() != python_main_thread) return;
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

// The process-wide settings one run changes — LibTorch's thread count (shared with the
// caller's PyTorch) and cfx's quiet mode — given back as they were when it ends or throws.
class RunSettings {
 public:
  RunSettings(int threads, bool quiet) : threads_(cfx::threads()), quiet_(cfx::quiet()) {
    cfx::set_threads(threads);
    cfx::set_quiet(quiet);  // notices (resized images, resumed batches) follow `progress`
  }
  ~RunSettings() {
    cfx::set_threads(threads_);
    cfx::set_quiet(quiet_);
  }
  RunSettings(const RunSettings&) = delete;
  RunSettings& operator=(const RunSettings&) = delete;

 private:
  int threads_;
  bool quiet_;
};

using SessionPtr = std::shared_ptr<cfx::Session>;

// The model a Python call names: a file, with what overrides its metadata (see
// cfx/__init__.py's _model_spec). JSON keys: path, input_shape, fallback_shape, classes, mean,
// std, source. With a session, a model it loaded before is reused. images_shape, when the spec
// has no fallback_shape, gives the query images' shape lazily (only a file without one asks).
std::shared_ptr<cfx::Classifier> load_model(
    const nlohmann::json& spec, const SessionPtr& session = nullptr,
    std::function<std::vector<int64_t>()> images_shape = nullptr) {
  cfx::ClassifierOverrides ov;
  ov.input_shape = spec.value("input_shape", std::vector<int64_t>{});
  ov.class_names = spec.value("classes", std::vector<std::string>{});
  ov.mean = spec.value("mean", std::vector<double>{});
  ov.std = spec.value("std", std::vector<double>{});
  ov.source = spec.value("source", std::string());
  // A model file that states no input shape takes the images'.
  auto fallback = spec.value("fallback_shape", std::vector<int64_t>{});
  if (!fallback.empty())
    ov.input_shape_fallback = [fallback] { return fallback; };
  else if (images_shape)
    ov.input_shape_fallback = std::move(images_shape);  // asked only if the file states none
  const auto path = spec.at("path").get<std::string>();
  return session ? session->classifier(path, ov) : cfx::load_classifier(path, ov);
}

struct Outcome {
  cfx::ExplainOutcome o;
  std::string document() const { return o.document.dump(); }
};

std::shared_ptr<Outcome> explain(const std::string& model_json, const torch::Tensor& images,
                                 const std::vector<std::string>& inputs,
                                 const std::string& job_json, int threads, bool progress,
                                 const SessionPtr& session) {
  auto job = cfx::ExplainJob::from_json(parse_json(job_json, "the explain job"));
  auto model = parse_json(model_json, "the model");
  auto out = std::make_shared<Outcome>();
  {
    py::gil_scoped_release nogil;
    RunSettings settings(threads, !progress);
    auto F = load_model(model, session);
    std::optional<cfx::ProgressBar> bar;
    if (progress) bar.emplace(job.method, images.size(0) * cfx::kProgressUnit, cfx::kProgressUnit);
    out->o = cfx::run_explain(job, F, images, inputs, {{"command", "python explain"}},
                              [&](int64_t done, int64_t, int64_t) {
                                check_python_signals();
                                if (bar) bar->update(done);
                              });
    if (bar) bar->finish();
  }
  return out;
}

// What the batch files of this explain job are kept under (cfx.distributed writes it).
std::string explain_batch_settings(const std::string& model_json, const torch::Tensor& images,
                                   const std::string& job_json, int threads) {
  auto job = cfx::ExplainJob::from_json(parse_json(job_json, "the explain job"));
  auto model = parse_json(model_json, "the model");
  py::gil_scoped_release nogil;
  RunSettings settings(threads, true);
  return cfx::explain_batch_settings(job, load_model(model), images).dump();
}

cfx::EvalItems eval_items(const torch::Tensor& images, const std::vector<std::string>& inputs,
                          const nlohmann::json& where, uint64_t seed) {
  cfx::EvalItems items;
  items.images = images;
  items.inputs = inputs;
  items.data = where.value("data", std::string());
  items.split = where.value("split", std::string("test"));
  items.offset = where.value("offset", int64_t{0});
  items.data_seed = seed;
  return items;
}

// Per method: what cfx.distributed computes on the workers for an evaluation.
py::list eval_batch_plans(const std::string& model_json, const torch::Tensor& images,
                          const std::vector<std::string>& inputs, const std::string& items_json,
                          const std::string& job_json, int threads) {
  auto job = cfx::EvalJob::from_json(parse_json(job_json, "the eval job"));
  auto model = parse_json(model_json, "the model");
  auto where = parse_json(items_json, "the items' origin");
  std::vector<cfx::EvalBatchPlan> plans;
  {
    py::gil_scoped_release nogil;
    RunSettings settings(threads, true);
    plans =
        cfx::eval_batch_plans(job, load_model(model), eval_items(images, inputs, where, job.seed));
  }
  py::list out;
  for (const auto& p : plans) {
    py::dict d;
    d["method"] = p.method;
    d["options"] = p.options.dump();
    d["images"] = p.images;
    d["targets"] = p.targets;
    d["batches_dir"] = p.batches_dir;
    d["settings"] = p.settings.dump();
    out.append(d);
  }
  return out;
}

// eval.json as text; with `out_dir`, also the CLI's files there.
std::string evaluate(const std::string& model_json, const torch::Tensor& images,
                     const std::vector<std::string>& inputs, const std::string& items_json,
                     const std::string& job_json, const std::string& out_dir, int threads,
                     bool progress, const SessionPtr& session) {
  auto job = cfx::EvalJob::from_json(parse_json(job_json, "the eval job"));
  auto model = parse_json(model_json, "the model");
  auto where = parse_json(items_json, "the items' origin");
  py::gil_scoped_release nogil;
  RunSettings settings(threads, !progress);
  if (!out_dir.empty()) cfx::ensure_writable_dir(out_dir);
  auto F = load_model(model, session);
  auto items = eval_items(images, inputs, where, job.seed);
  std::unique_ptr<cfx::ProgressBar> bar;
  std::string running;
  // The sanity check randomises a copy of the model: a fresh one, never the session's.
  auto out = cfx::run_eval(
      job, F, items, [&] { return load_model(model); }, {{"command", "python evaluate"}},
      [&](const std::string& method, int64_t done, int64_t total) {
        check_python_signals();
        if (!progress) return;
        if (method != running) {
          bar = std::make_unique<cfx::ProgressBar>(method, total, cfx::kProgressUnit);
          running = method;
        }
        bar->update(done);
        if (done == total) bar->finish();
      });
  if (!out_dir.empty()) cfx::write_eval(out, out_dir);
  return out.document.dump();
}

// The fields of intervention samples, by name (cfx.distributed gathers them from workers).
const std::vector<std::pair<const char*, torch::Tensor cfx::InterventionSamples::*>>&
sample_fields() {
  using S = cfx::InterventionSamples;
  static const std::vector<std::pair<const char*, torch::Tensor S::*>> f = {
      {"attr", &S::attr},
      {"outcome", &S::outcome},
      {"prob", &S::prob},
      {"outcome_on", &S::outcome_on},
      {"outcome_off", &S::outcome_off},
      {"prob_on", &S::prob_on},
      {"prob_off", &S::prob_off},
      {"took_on", &S::took_on},
      {"took_off", &S::took_off},
      {"pixels_took_on", &S::pixels_took_on},  // undefined (absent) unless read from pixels
      {"pixels_took_off", &S::pixels_took_off},
      {"group", &S::group}};  // undefined (absent) with one shift predictor
  return f;
}

py::tuple global_latents(const std::string& model_json, const std::string& job_json, int threads) {
  auto job = cfx::GlobalJob::from_json(parse_json(job_json, "the global job"));
  auto model = parse_json(model_json, "the model");
  cfx::GlobalLatents l;
  {
    py::gil_scoped_release nogil;
    RunSettings settings(threads, true);
    l = cfx::global_latents(job, load_model(model));
  }
  return py::make_tuple(l.latents, l.source);
}

py::dict global_samples(const std::string& model_json, const std::string& job_json,
                        const torch::Tensor& latents, int threads) {
  auto job = cfx::GlobalJob::from_json(parse_json(job_json, "the global job"));
  auto model = parse_json(model_json, "the model");
  cfx::InterventionSamples s;
  {
    py::gil_scoped_release nogil;
    RunSettings settings(threads, true);
    s = cfx::global_samples(job, load_model(model), latents,
                            [](int64_t, int64_t, int64_t) { check_python_signals(); });
  }
  py::dict d;
  for (const auto& [name, field] : sample_fields())
    if ((s.*field).defined()) d[name] = s.*field;
  d["names"] = s.names;
  return d;
}

std::string global_outcome(const std::string& model_json, const std::string& job_json,
                           const py::dict& samples, const std::string& source,
                           double sample_seconds, const std::string& out_dir, int threads) {
  auto job = cfx::GlobalJob::from_json(parse_json(job_json, "the global job"));
  auto model = parse_json(model_json, "the model");
  cfx::InterventionSamples s;
  for (const auto& [name, field] : sample_fields())
    if (samples.contains(name)) s.*field = samples[name].cast<torch::Tensor>();
  s.names = samples["names"].cast<std::vector<std::string>>();
  py::gil_scoped_release nogil;
  RunSettings settings(threads, true);
  if (!out_dir.empty()) cfx::ensure_writable_dir(out_dir);
  auto out = cfx::global_outcome(job, load_model(model), s, source, sample_seconds,
                                 {{"command", "python distributed global_scores"}});
  if (!out_dir.empty()) cfx::write_global(out, out_dir);
  return out.document.dump();
}

// global.json as text; with `out_dir`, also global.png and report.html there.
std::string global_scores(const std::string& model_json, const std::string& job_json,
                          const std::string& out_dir, int threads, bool progress,
                          const SessionPtr& session) {
  auto job = cfx::GlobalJob::from_json(parse_json(job_json, "the global job"));
  auto model = parse_json(model_json, "the model");
  py::gil_scoped_release nogil;
  RunSettings settings(threads, !progress);
  if (!out_dir.empty()) cfx::ensure_writable_dir(out_dir);
  auto F = load_model(model, session);
  std::unique_ptr<cfx::ProgressBar> bar;
  auto out = cfx::run_global(job, F, {{"command", "python global_scores"}},
                             [&](int64_t done, int64_t all, int64_t) {
                               check_python_signals();
                               if (!progress) return;
                               if (!bar) bar = std::make_unique<cfx::ProgressBar>("global", all);
                               bar->update(done);
                             });
  if (bar) bar->finish();
  if (!out_dir.empty()) cfx::write_global(out, out_dir);
  return out.document.dump();
}

// result.json of `cfx explain-text` as text; with `out_dir`, also written there.
std::string explain_text(const std::string& job_json, const std::string& out_dir, int threads,
                         bool progress) {
  auto job = cfx::TextJob::from_json(parse_json(job_json, "the text job"));
  py::gil_scoped_release nogil;
  RunSettings settings(threads, !progress);
  if (!out_dir.empty()) cfx::ensure_writable_dir(out_dir);
  std::optional<cfx::ProgressBar> bar;
  if (progress) bar.emplace(job.method, job.aip_options().search.steps);
  auto out = cfx::run_explain_text(job, "python explain_text", [&](int64_t step, int64_t, int64_t) {
    check_python_signals();
    if (bar) bar->update(step);
  });
  if (bar) bar->finish();
  if (!out_dir.empty()) cfx::write_explain_text(out, out_dir);
  return out.document.dump();
}

// The sidecar the trainer wrote, as text.
std::string train(const std::string& job_json, int threads, bool progress) {
  auto job = cfx::TrainJob::from_json(parse_json(job_json, "the train job"));
  py::gil_scoped_release nogil;
  RunSettings settings(threads, !progress);
  auto out = cfx::run_train(job);
  return cfx::read_sidecar(out.path).dump();
}

py::list trainers() {
  py::list out;
  for (const auto& t : cfx::trainers()) {
    nlohmann::json options = nlohmann::json::object(), help = nlohmann::json::object();
    for (const auto& o : t.options) {
      options[o.key] = o.default_value;
      help[o.key] = o.help;
    }
    py::dict d;
    d["kind"] = t.kind;
    d["description"] = t.description;
    d["defaults"] = options.dump();
    d["help"] = help.dump();
    out.append(d);
  }
  return out;
}

// The method registry as text (cfx::method_registry_json, what `cfx methods --json` prints).
std::string methods() { return cfx::method_registry_json().dump(); }

// `cfx info --json` of a model, as text.
std::string describe(const std::string& model_json) {
  auto model = parse_json(model_json, "the model");
  py::gil_scoped_release nogil;
  return cfx::describe_classifier(*load_model(model)).dump();
}

py::tuple load_dataset(const std::string& name, const std::string& split, int64_t n, uint64_t seed,
                       int64_t size, const SessionPtr& session) {
  cfx::DatasetOptions o;
  o.split = split;
  o.limit = n;
  o.seed = seed;
  if (size != -1) {  // -1: not given
    CFX_CHECK(name == "shapes", "size applies to the shapes dataset only (", name,
              " has a fixed size)");
    o.shapes_size = size;
  }
  std::shared_ptr<const cfx::Dataset> d;
  {
    py::gil_scoped_release nogil;
    d = session ? session->dataset(name, o)
                : std::make_shared<cfx::Dataset>(cfx::load_dataset(name, o));
  }
  return py::make_tuple(d->images, d->labels, d->class_names, d->sources);
}

// The query images `cfx explain --data NAME --n --offset` would run on this model: the
// dataset's items from `offset`, rendered (shapes) or resized to the model's input shape, and
// their names "dataset:split:index". cfx.distributed's command line uses it, so a shard sees
// exactly what the single-machine command sees.
py::tuple load_inputs(const std::string& data, const std::string& split, int64_t n, int64_t offset,
                      uint64_t seed, const std::string& model_json) {
  auto model = parse_json(model_json, "the model");
  cfx::InputOptions in;
  in.data = data;
  in.split = split;
  in.n = n;
  in.offset = offset;
  in.seed = seed;
  cfx::Inputs inputs;
  {
    py::gil_scoped_release nogil;
    auto F = load_model(model, nullptr, [in] { return cfx::native_input_shape(in); });
    inputs = cfx::load_inputs(in, F->input_shape());
  }
  return py::make_tuple(inputs.images, inputs.sources);
}

}  // namespace

PYBIND11_MODULE(_cfx, m) {
  m.doc() = "cfx: counterfactual explanations of image classifiers (C++ engine)";
  m.attr("__version__") = CFX_VERSION;
  cfx::set_surface(cfx::Surface::python);  // messages name keywords, not the CLI's flags
  python_main_thread =
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  static py::exception<cfx::Error> error(m, "Error", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const cfx::Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });
  py::class_<Outcome, std::shared_ptr<Outcome>>(m, "Outcome")
      .def_property_readonly("document", &Outcome::document)
      .def_property_readonly(
          "counterfactuals",
          [](const Outcome& o) { return o.o.explanation.result.counterfactuals; })
      .def_property_readonly("saliency",
                             [](const Outcome& o) { return o.o.explanation.result.saliency; })
      .def_property_readonly("valid", [](const Outcome& o) { return o.o.explanation.scores.valid; })
      .def_property_readonly("targets", [](const Outcome& o) { return o.o.targets; })
      .def("save", [](const Outcome& o, const std::string& dir) {
        py::gil_scoped_release nogil;
        cfx::write_explain(o.o, dir);
      });
  py::class_<cfx::Session, SessionPtr>(m, "Session")
      .def(py::init<>())
      .def_property_readonly("classifiers_loaded", &cfx::Session::classifiers_loaded)
      .def_property_readonly("datasets_loaded", &cfx::Session::datasets_loaded)
      .def("clear", &cfx::Session::clear);
  const auto no_session = py::arg("session") = py::none();
  m.def("explain", &explain, py::arg("model"), py::arg("images"), py::arg("inputs"), py::arg("job"),
        py::arg("threads"), py::arg("progress"), no_session);
  m.def("evaluate", &evaluate, py::arg("model"), py::arg("images"), py::arg("inputs"),
        py::arg("where"), py::arg("job"), py::arg("out"), py::arg("threads"), py::arg("progress"),
        no_session);
  m.def("explain_batch_settings", &explain_batch_settings);
  m.def("eval_batch_plans", &eval_batch_plans);
  m.def("global_scores", &global_scores, py::arg("model"), py::arg("job"), py::arg("out"),
        py::arg("threads"), py::arg("progress"), no_session);
  m.def("global_latents", &global_latents);
  m.def("global_samples", &global_samples);
  m.def("global_outcome", &global_outcome);
  m.def("explain_text", &explain_text);
  m.def("train", &train);
  m.def("trainers", &trainers);
  m.def("methods", &methods);
  m.def("describe", &describe);
  m.def("load_dataset", &load_dataset, py::arg("name"), py::arg("split"), py::arg("n"),
        py::arg("seed"), py::arg("size") = -1, no_session);
  m.def("load_inputs", &load_inputs, py::arg("data"), py::arg("split"), py::arg("n"),
        py::arg("offset"), py::arg("seed"), py::arg("model"));
  m.def("read_image", [](const std::string& path) { return cfx::read_image(path); });
}
