#include "cfx/eval/explain.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "cfx/core/error.h"
#include "cfx/core/memory.h"
#include "cfx/eval/batch_store.h"

namespace cfx {

namespace {

torch::Tensor cat_defined(const std::vector<torch::Tensor>& parts) {
  if (parts.empty() || !parts.front().defined()) return {};
  return torch::cat(parts, 0);
}

// The per-item fields of the attribute edits of every chunk, joined along items.
AttributeEdits cat_edits(const std::vector<AttributeEdits>& parts) {
  AttributeEdits out;
  if (parts.empty() || !parts.front().defined()) return out;
  out.names = parts.front().names;
  auto cat = [&](torch::Tensor AttributeEdits::*field) {
    std::vector<torch::Tensor> v;
    for (const auto& p : parts) v.push_back(p.*field);
    out.*field = cat_defined(v);
  };
  for (auto f :
       {&AttributeEdits::before, &AttributeEdits::direction, &AttributeEdits::after,
        &AttributeEdits::images, &AttributeEdits::classes, &AttributeEdits::target_prob,
        &AttributeEdits::chosen, &AttributeEdits::base_class, &AttributeEdits::base_target_prob})
    cat(f);
  return out;
}

}  // namespace

Explanation explain(Method& method, const Request& request, int64_t batch_size,
                    const BatchFiles& files) {
  CFX_CHECK(batch_size >= 1, "invalid batch size: ", batch_size);
  request.validate();
  const int64_t n = request.images.size(0);
  // A model that returns NaNs, no gradient or the wrong shape fails here, in one line, not
  // as silent nonsense after the search. Two items: a batch of one hides batch-size bugs.
  if (n > 0)
    check_classifier_outputs(*request.classifier,
                             request.images.slice(0, 0, std::min<int64_t>(n, 2)),
                             method.needs_input_gradient());
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
    // Everything a batch's result depends on; a resumed run must match it exactly.
    nlohmann::json settings = e.config;
    settings["items"] = n;
    settings["inputs"] = run_fingerprint(*request.classifier, request.images, request.targets);
    store.emplace(files.dir, settings, files.resume);
  }
  std::vector<torch::Tensor> cfs, sal, infilled, steps, conv, stages, psnrs, recs, rec_errs;
  std::vector<AttributeEdits> edits;
  std::vector<torch::Tensor> shift_before, shift_after;
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
      stored->result = method.run(chunk);
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
    cfs.push_back(r.counterfactuals);
    sal.push_back(r.saliency);
    infilled.push_back(r.infilled);
    steps.push_back(r.steps);
    conv.push_back(r.converged);
    stages.push_back(r.stage_images);
    psnrs.push_back(r.prior_psnr);
    recs.push_back(r.reconstruction);
    rec_errs.push_back(r.reconstruction_error);
    edits.push_back(std::move(r.edits));
    if (r.attribute_shift.defined()) e.result.attribute_shift.names = r.attribute_shift.names;
    shift_before.push_back(r.attribute_shift.before);
    shift_after.push_back(r.attribute_shift.after);
    for (auto& t : r.target_prob_trace) e.result.target_prob_trace.push_back(std::move(t));
    for (auto& t : r.loss_trace) e.result.loss_trace.push_back(std::move(t));
    e.result.seconds += r.seconds;
  }
  e.result.counterfactuals = cat_defined(cfs);
  e.result.saliency = cat_defined(sal);
  e.result.infilled = cat_defined(infilled);
  e.result.steps = cat_defined(steps);
  e.result.converged = cat_defined(conv);
  e.result.stage_images = cat_defined(stages);
  e.result.prior_psnr = cat_defined(psnrs);
  e.result.reconstruction = cat_defined(recs);
  e.result.reconstruction_error = cat_defined(rec_errs);
  e.result.edits = cat_edits(edits);
  e.result.attribute_shift.before = cat_defined(shift_before);
  e.result.attribute_shift.after = cat_defined(shift_after);
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
