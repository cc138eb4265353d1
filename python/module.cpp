// The C++ half of the Python package: `cfx._cfx`. Tensors cross as torch tensors (no copy);
// every run releases the GIL; a cfx::Error becomes cfx.Error (a ValueError) with the CLI's
// one line; Ctrl-C stops a run at the next optimisation step with KeyboardInterrupt.
// python/cfx/__init__.py holds the keyword-argument surface; this file stays thin.
#include <pybind11/stl.h>
#include <torch/extension.h>

#include <optional>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/core/progress.h"
#include "cfx/core/threads.h"
#include "cfx/data/dataset.h"
#include "cfx/data/image_io.h"
#include "cfx/methods/registry.h"
#include "cfx/models/classifier.h"
#include "cfx/run/explain_job.h"

namespace py = pybind11;

namespace {

// JSON crosses as text; the Python side parses it with the json module.
nlohmann::json parse_json(const std::string& text, const char* what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  CFX_CHECK(!j.is_discarded(), what, " is not valid JSON");
  return j;
}

// Called at every optimisation step with the GIL released: take it briefly to let Python
// see Ctrl-C, and stop the run by throwing Python's exception through the C++ frames.
void check_python_signals() {
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

struct Outcome {
  cfx::ExplainOutcome o;
  std::string document() const { return o.document.dump(); }
};

std::shared_ptr<Outcome> explain(const std::string& model, const std::vector<int64_t>& input_shape,
                                 const std::vector<int64_t>& fallback_shape,
                                 const std::vector<std::string>& class_names,
                                 const std::vector<double>& mean, const std::vector<double>& std,
                                 const std::string& source, const torch::Tensor& images,
                                 const std::vector<std::string>& inputs,
                                 const std::string& job_json, int threads, bool progress) {
  auto job = cfx::ExplainJob::from_json(parse_json(job_json, "the explain job"));
  auto out = std::make_shared<Outcome>();
  {
    py::gil_scoped_release nogil;
    RunSettings settings(threads, !progress);
    cfx::ClassifierOverrides ov{input_shape, class_names, mean, std, source, {}};
    // A model file that states no input shape takes the images'.
    if (!fallback_shape.empty())
      ov.input_shape_fallback = [fallback_shape] { return fallback_shape; };
    auto F = cfx::load_classifier(model, ov);
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

py::list methods() {
  py::list out;
  for (const auto& m : cfx::method_registry()) {
    py::dict d;
    d["name"] = m.name;
    d["kind"] = m.kind;
    d["description"] = m.description;
    d["paper"] = m.paper;
    d["defaults"] = m.make(nlohmann::json::object())->config()["options"].dump();
    out.append(d);
  }
  return out;
}

py::tuple load_dataset(const std::string& name, const std::string& split, int64_t n,
                       uint64_t seed) {
  cfx::DatasetOptions o;
  o.split = split;
  o.limit = n;
  o.seed = seed;
  cfx::Dataset d;
  {
    py::gil_scoped_release nogil;
    d = cfx::load_dataset(name, o);
  }
  return py::make_tuple(d.images, d.labels, d.class_names);
}

}  // namespace

PYBIND11_MODULE(_cfx, m) {
  m.doc() = "cfx: counterfactual explanations of image classifiers (C++ engine)";
  m.attr("__version__") = CFX_VERSION;
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
  m.def("explain", &explain);
  m.def("methods", &methods);
  m.def("load_dataset", &load_dataset);
  m.def("read_image", [](const std::string& path) { return cfx::read_image(path); });
}
