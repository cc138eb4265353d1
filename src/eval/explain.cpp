#include "cfx/eval/explain.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "cfx/core/error.h"
#include "cfx/core/memory.h"
#include "cfx/core/surface.h"
#include "cfx/eval/batch_store.h"

namespace cfx {

namespace {

torch::Tensor cat_defined(const std::vector<torch::Tensor>& parts) {
  if (parts.empty() || !parts.front().defined()) return {};
  return torch::cat(parts, 0);
}

std::string item_shape(const torch::Tensor& images) {
  return str(images.size(1), "x", images.size(2), "x", images.size(3));
}

std::string out_of_memory(const Request& request, int64_t rows) {
  return str("out of memory running a batch of ", rows, " item(s) of ", item_shape(request.images),
             " on ", request.device.str(), "; lower the batch size (", option("batch-size"), ")",
             rows > 1 ? "" : " or the input size");
}

// Refuses, before the first batch allocates anything, a batch size whose tensors cannot fit.
// A lower bound per item: the classifier's forward and backward as measured on the probe
// (`probe_mb_per_item`, NaN where not measurable) plus six copies of the input, which every
// method holds at least (query, perturbation, its gradient, two Adam moments, the result).
void check_batch_memory(const Request& request, int64_t batch_size, double probe_mb_per_item) {
  const int64_t rows = std::min<int64_t>(batch_size, request.images.size(0));
  const double input = static_cast<double>(request.images[0].numel()) * sizeof(float);
  const double model = std::isfinite(probe_mb_per_item) ? probe_mb_per_item * 1048576.0 : 0.0;
  const double per_item = 6.0 * input + model;
  const int64_t avail = available_memory_bytes();
  // The advice leaves a quarter of headroom: the probe's measured peak varies by ~10% from
  // run to run (allocator and first-touch effects), and the suggested size should pass.
  const int64_t fits =
      avail > 0 ? static_cast<int64_t>(static_cast<double>(avail) / (1.25 * per_item)) : 0;
  check_memory_fits(static_cast<double>(rows) * per_item,
                    str("a batch of ", rows, " item(s) of ", item_shape(request.images)),
                    fits >= 1
                        ? str("lower the batch size (", option("batch-size"), ") to at most ", fits)
                        : std::string("lower the input size"));
}

}  // namespace

nlohmann::json batch_settings(const Method& method, const Request& request, int64_t batch_size) {
  // Everything a batch's result depends on.
  nlohmann::json settings = method.config();
  settings["seed"] = request.seed;
  settings["device"] = request.device.str();
  settings["batch_size"] = batch_size;
  settings["items"] = request.images.size(0);
  settings["inputs"] = run_fingerprint(*request.classifier, request.images, request.targets);
  return settings;
}

Explanation explain(Method& method, const Request& request, int64_t batch_size,
                    const BatchFiles& files) {
  CFX_CHECK(batch_size >= 1, "invalid batch size: ", batch_size);
  request.validate();
  const int64_t n = request.images.size(0);
  // A model that returns NaNs, no gradient or the wrong shape fails here, in one line, not
  // as silent nonsense after the search. Two items: a batch of one hides batch-size bugs.
  if (n > 0) {
    const int64_t probe = std::min<int64_t>(n, 2);
    PeakMemory mem(request.device);
    check_classifier_outputs(*request.classifier, request.images.slice(0, 0, probe),
                             method.needs_input_gradient());
    if (!request.device.is_cuda()) check_batch_memory(request, batch_size, mem.peak_mb() / probe);
  }
  Explanation e;
  auto set_config = [&] {
    e.config = method.config();
    e.config["seed"] = request.seed;
    e.config["device"] = request.device.str();
    e.config["batch_size"] = batch_size;
  };
  set_config();
  std::optional<BatchStore> store;
  if (!files.dir.empty()) {
    store.emplace(files.dir, batch_settings(method, request, batch_size), files.resume);
  }
  // Each per-item tensor of every chunk, in Result::item_tensors() order.
  std::vector<std::vector<torch::Tensor>> parts(e.result.item_tensors().size());
  std::vector<float> batch_peak(n), item_peak(n);
  for (int64_t i = 0; i < n; i += batch_size) {
    int64_t j = std::min(n, i + batch_size);
    Request chunk = request;
    chunk.images = request.images.slice(0, i, j);
    chunk.targets = request.targets.slice(0, i, j);
    // Each chunk gets its own seed stream, so results do not depend on chunk order.
    chunk.seed = request.seed + static_cast<uint64_t>(i);
    if (request.progress) {
      chunk.progress = [&, i, j](int64_t s, int64_t total, int64_t active) {
        // The chunk's share done: its finished items, or its steps where those lead (every
        // item runs until it stops, and a step costs about the same for each item).
        const double b = static_cast<double>(j - i);
        double f = std::max(total > 0 ? static_cast<double>(s) / total : 1.0, (b - active) / b);
        auto done = static_cast<int64_t>(kProgressUnit * (i + b * std::min(1.0, f)));
        request.progress(done, n * kProgressUnit, active + (n - j));
      };
    }
    std::optional<StoredBatch> stored = store ? store->load(i, j) : std::nullopt;
    if (stored) {
      ++e.resumed_batches;
      if (request.progress) request.progress(j * kProgressUnit, n * kProgressUnit, n - j);
    } else {
      stored.emplace();
      PeakMemory mem(request.device);
      try {
        stored->result = method.run(chunk);
      } catch (const std::bad_alloc&) {
        fail(out_of_memory(request, j - i));
      } catch (const c10::Error& err) {
        if (!is_out_of_memory(err.what())) throw;
        fail(out_of_memory(request, j - i));
      }
      stored->peak_mb = mem.peak_mb();
      if (store) store->save(i, j, *stored);
      // Methods report steps, not their end: the chunk is whole now.
      if (request.progress) request.progress(j * kProgressUnit, n * kProgressUnit, n - j);
    }
    Result& r = stored->result;
    for (int64_t k = i; k < j; ++k) {
      batch_peak[k] = static_cast<float>(stored->peak_mb);
      item_peak[k] = static_cast<float>(stored->peak_mb / static_cast<double>(j - i));
    }
    auto fields = r.item_tensors();
    for (size_t k = 0; k < fields.size(); ++k) parts[k].push_back(*fields[k].second);
    if (r.edits.defined()) e.result.edits.names = r.edits.names;
    if (r.attribute_shift.defined()) e.result.attribute_shift.names = r.attribute_shift.names;
    for (auto& t : r.target_prob_trace) e.result.target_prob_trace.push_back(std::move(t));
    for (auto& t : r.loss_trace) e.result.loss_trace.push_back(std::move(t));
    e.result.seconds += r.seconds;
  }
  auto joined = e.result.item_tensors();
  for (size_t k = 0; k < joined.size(); ++k) *joined[k].second = cat_defined(parts[k]);
  // Again after the run: a method may only know some settings once it has run (the latent
  // method reports the model files it found).
  set_config();
  e.batch_peak_mb = torch::tensor(batch_peak, torch::kFloat32);
  e.item_peak_mb = torch::tensor(item_peak, torch::kFloat32);
  if (e.result.counterfactuals.defined())
    e.scores = score_counterfactuals(*request.classifier, request.images, e.result.counterfactuals,
                                     request.targets);
  if (e.result.saliency.defined())
    e.saliency = score_saliency(*request.classifier, request.images, e.result.saliency,
                                e.result.infilled, request.targets);
  return e;
}

}  // namespace cfx
