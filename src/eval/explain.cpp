#include "cfx/eval/explain.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "cfx/core/error.h"
#include "cfx/core/log.h"
#include "cfx/core/memory.h"
#include "cfx/core/surface.h"
#include "cfx/core/threads.h"
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
void check_batch_memory(const Request& request, int64_t batch_size, int64_t workers,
                        double probe_mb_per_item) {
  const int64_t rows = std::min<int64_t>(batch_size, request.images.size(0)) * workers;
  const double input = static_cast<double>(request.images[0].numel()) * sizeof(float);
  const double model = std::isfinite(probe_mb_per_item) ? probe_mb_per_item * 1048576.0 : 0.0;
  const double per_item = 6.0 * input + model;
  const int64_t avail = available_memory_bytes();
  // The advice leaves a quarter of headroom: the probe's measured peak varies by ~10% from
  // run to run (allocator and first-touch effects), and the suggested size should pass.
  const int64_t fits =
      avail > 0 ? static_cast<int64_t>(static_cast<double>(avail) / (1.25 * per_item * workers))
                : 0;
  check_memory_fits(
      static_cast<double>(rows) * per_item,
      workers > 1 ? str(workers, " batches of ", rows / workers, " item(s) of ",
                        item_shape(request.images), " at once")
                  : str("a batch of ", rows, " item(s) of ", item_shape(request.images)),
      fits >= 1 ? str("lower the batch size (", option("batch-size"), ") to at most ", fits)
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

namespace {

// How many batches run at once: `asked` (0: one per intra-op thread), where the method
// allows it and there is more than one batch; on CUDA one (the device is the bottleneck).
int64_t batch_workers(const Method& method, const Request& request, int64_t chunks, int64_t asked) {
  CFX_CHECK(asked >= 0 && asked <= 1024, "batch workers: ", asked,
            " (use 0 for one per thread, or 1 to 1024)");
  if (chunks < 2 || request.device.is_cuda()) return 1;
  if (!method.concurrent_runs()) {
    if (asked > 1)
      notice(str(method.name(), " runs its batches one at a time (", option("batch-workers"), " ",
                 asked, " is for the methods whose runs share nothing)"));
    return 1;
  }
  return std::min<int64_t>(chunks, asked > 0 ? asked : threads());
}

}  // namespace

Explanation explain(Method& method, const Request& request, int64_t batch_size,
                    const BatchFiles& files, int64_t workers) {
  CFX_CHECK(batch_size >= 1, "invalid batch size: ", batch_size);
  request.validate();
  const int64_t n = request.images.size(0);
  const int64_t num_chunks = (n + batch_size - 1) / batch_size;
  // Items [first, second) of chunk c.
  auto bounds = [&](int64_t c) {
    return std::pair<int64_t, int64_t>(c * batch_size, std::min(n, (c + 1) * batch_size));
  };
  workers = batch_workers(method, request, num_chunks, workers);
  const int total_threads = threads();
  // A model that returns NaNs, no gradient or the wrong shape fails here, in one line, not
  // as silent nonsense after the search. Two items: a batch of one hides batch-size bugs.
  if (n > 0) {
    const int64_t probe = std::min<int64_t>(n, 2);
    PeakMemory mem(request.device);
    check_classifier_outputs(*request.classifier, request.images.slice(0, 0, probe),
                             method.needs_input_gradient());
    if (!request.device.is_cuda())
      check_batch_memory(request, batch_size, workers, mem.peak_mb() / probe);
  }
  Explanation e;
  e.workers = workers;
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

  // Progress of every chunk, summed: work units done and items not finished.
  std::mutex mutex;  // guards the progress sums, request.progress and the batch store
  std::vector<int64_t> units(static_cast<size_t>(num_chunks), 0), left(units.size());
  auto report = [&] {
    int64_t done = 0, open = 0;
    for (size_t c = 0; c < units.size(); ++c) done += units[c], open += left[c];
    request.progress(done, n * kProgressUnit, open);
  };
  // Side by side, workers only record progress and wake the calling thread, which reports
  // it: request.progress always runs on the caller's thread (Python sees Ctrl-C only on its
  // main thread), and when it throws, `cancel` stops the workers at their next step.
  std::condition_variable changed;
  std::atomic<bool> cancel{false};
  struct Cancelled {};
  auto publish = [&] {
    if (workers > 1)
      changed.notify_all();
    else if (request.progress)
      report();
  };
  std::vector<std::optional<StoredBatch>> stored(units.size());
  std::vector<bool> resumed(units.size(), false);
  // With several workers one PeakMemory watches the whole run (the resident set is the
  // process's): a batch is charged the peak so far divided by the batches running at once.
  std::optional<PeakMemory> shared_mem;
  if (workers > 1) shared_mem.emplace(request.device);

  auto run_chunk = [&](int64_t c) {
    // Plain variables, not a structured binding: the progress lambda below captures them
    // (C++17 cannot capture a binding; clang refuses it).
    const int64_t i = bounds(c).first, j = bounds(c).second;
    if (store) {
      std::lock_guard<std::mutex> lock(mutex);
      stored[c] = store->load(i, j);
    }
    Request chunk = request;
    chunk.images = request.images.slice(0, i, j);
    chunk.targets = request.targets.slice(0, i, j);
    // Each chunk gets its own seed stream, so results do not depend on chunk order.
    chunk.seed = request.seed + static_cast<uint64_t>(i);
    if (request.progress) {
      chunk.progress = [&, c, i, j](int64_t s, int64_t total, int64_t active) {
        // The chunk's share done: its finished items, or its steps where those lead (every
        // item runs until it stops, and a step costs about the same for each item).
        const double b = static_cast<double>(j - i);
        double f = std::max(total > 0 ? static_cast<double>(s) / total : 1.0, (b - active) / b);
        if (cancel) throw Cancelled{};
        std::lock_guard<std::mutex> lock(mutex);
        units[c] = static_cast<int64_t>(kProgressUnit * b * std::min(1.0, f));
        left[c] = active;
        publish();
      };
    }
    if (stored[c]) {
      resumed[c] = true;
    } else {
      StoredBatch batch;
      std::optional<PeakMemory> mem;
      if (!shared_mem) mem.emplace(request.device);
      try {
        batch.result = method.run(chunk);
      } catch (const std::bad_alloc&) {
        fail(out_of_memory(request, j - i));
      } catch (const c10::Error& err) {
        if (!is_out_of_memory(err.what())) throw;
        fail(out_of_memory(request, j - i));
      }
      batch.peak_mb = mem ? mem->peak_mb() : shared_mem->peak_mb() / static_cast<double>(workers);
      std::lock_guard<std::mutex> lock(mutex);
      if (store) store->save(i, j, batch);
      stored[c] = std::move(batch);
    }
    // Methods report steps, not their end: the chunk is whole now.
    std::lock_guard<std::mutex> lock(mutex);
    units[c] = (j - i) * kProgressUnit;
    left[c] = 0;
    publish();
  };

  // Items of chunks not started count as not finished.
  for (int64_t c = 0; c < num_chunks; ++c) left[c] = bounds(c).second - bounds(c).first;
  const auto t0 = std::chrono::steady_clock::now();
  if (workers <= 1) {
    for (int64_t c = 0; c < num_chunks; ++c) run_chunk(c);
  } else {
    // Batches side by side, each on its own thread with its share of the intra-op threads:
    // on 2 cores two single-threaded batches beat one batch on two threads (small tensors
    // do not split well; docs/performance.md). Every batch runs at the same thread count,
    // whatever finishes first, so the results are those of a serial run at that count.
    const int per_worker = std::max<int>(1, total_threads / static_cast<int>(workers));
    std::atomic<int64_t> next{0};
    int64_t running = 0;       // workers started and not finished; guarded by mutex
    std::exception_ptr error;  // the first failure, a worker's or the progress callback's
    auto stop_with = [&](std::exception_ptr e) {  // called with mutex held
      if (!error) error = e;
      cancel = true;
    };
    std::vector<std::thread> pool;
    auto work = [&] {
      // ATen sizes each thread's OpenMP team lazily from a process-wide count; set this
      // thread's after that first initialisation, and the process count back below.
      at::internal::lazy_init_num_threads();
      at::set_num_threads(per_worker);
      for (int64_t c; !cancel && (c = next++) < num_chunks;) {
        try {
          run_chunk(c);
        } catch (const Cancelled&) {
          break;
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex);
          stop_with(std::current_exception());
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      --running;
      changed.notify_all();
    };
    for (int64_t w = 0; w < workers; ++w) {
      // A thread that cannot be started stops the run like a worker's failure; the ones
      // started finish their step and are joined below (a joinable std::thread destroyed
      // would terminate the process).
      try {
        std::lock_guard<std::mutex> lock(mutex);
        pool.emplace_back(work);
        ++running;
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        stop_with(std::current_exception());
        break;
      }
    }
    {
      std::unique_lock<std::mutex> lock(mutex);
      while (running > 0) {
        changed.wait_for(lock, std::chrono::milliseconds(100));
        if (!request.progress || cancel) continue;
        try {
          report();
        } catch (...) {
          stop_with(std::current_exception());
        }
      }
      // The end, which a worker's last wake-up may have raced past.
      if (request.progress && !cancel) report();
    }
    for (auto& t : pool) t.join();
    at::set_num_threads(total_threads);
    if (error) std::rethrow_exception(error);
  }

  // Each per-item tensor of every chunk, in Result::item_tensors() order.
  std::vector<std::vector<torch::Tensor>> parts(e.result.item_tensors().size());
  std::vector<float> batch_peak(n), item_peak(n);
  for (int64_t c = 0; c < num_chunks; ++c) {
    const auto [i, j] = bounds(c);
    if (resumed[c]) ++e.resumed_batches;
    Result& r = stored[c]->result;
    for (int64_t k = i; k < j; ++k) {
      batch_peak[k] = static_cast<float>(stored[c]->peak_mb);
      item_peak[k] = static_cast<float>(stored[c]->peak_mb / static_cast<double>(j - i));
    }
    auto fields = r.item_tensors();
    for (size_t k = 0; k < fields.size(); ++k) parts[k].push_back(*fields[k].second);
    if (r.edits.defined()) e.result.edits.names = r.edits.names;
    if (r.attribute_shift.defined()) e.result.attribute_shift.names = r.attribute_shift.names;
    for (auto& t : r.target_prob_trace) e.result.target_prob_trace.push_back(std::move(t));
    for (auto& t : r.loss_trace) e.result.loss_trace.push_back(std::move(t));
    // Seconds are what the user waited: the batches' own times one after another; side by
    // side, the wall time of the batches run now and a share of the resumed ones' times.
    if (workers <= 1 || resumed[c]) e.result.seconds += r.seconds / (resumed[c] ? workers : 1);
  }
  if (workers > 1)
    e.result.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
