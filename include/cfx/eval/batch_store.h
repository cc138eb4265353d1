// Finished batches of a run, kept on disk so that a killed run can resume where it stopped
// (`--resume`). Each batch is one file, written atomically once the batch is done, so a run
// killed at any moment (even SIGKILL) loses at most the batches still running.
#pragma once

#include <torch/types.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cfx/methods/method.h"

namespace cfx {

/// What one batch of items [begin, end) produced.
struct StoredBatch {
  Result result;                                              // the method's output for the batch
  double peak_mb = std::numeric_limits<double>::quiet_NaN();  // PeakMemory of its run
};

/// The batch files of one run in one folder: `config.json` (the settings the batches were
/// made with) and `BBBBBB-EEEEEE.pt` per finished batch (items BBBBBB to EEEEEE − 1).
class BatchStore {
 public:
  /// `config` holds everything that changes a batch's result (method and options, seed,
  /// batch size, device, run_fingerprint()). resume == false: starts afresh, removing batch
  /// files an earlier run left in `dir`. resume == true: keeps them if the earlier run's
  /// config equals `config`; otherwise throws cfx::Error naming the first setting that
  /// differs. Creates `dir` if needed (cfx::Error if it cannot).
  BatchStore(std::string dir, nlohmann::json config, bool resume);

  /// The stored batch of items [begin, end), or nothing if it was not finished (or its file
  /// is unreadable: a note is printed and the batch is run again).
  std::optional<StoredBatch> load(int64_t begin, int64_t end) const;

  /// Stores the batch of items [begin, end) atomically (temporary file, then rename).
  void save(int64_t begin, int64_t end, const StoredBatch& batch) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string path(int64_t begin, int64_t end) const;
  std::string dir_;
};

/// The LibTorch archive inside a batch file's bytes ("CFXBATCH1 <16 hex digits>\n" and the
/// archive, the digits its FNV-1a 64 hash), after checking the header and the hash; throws
/// cfx::Error when either is wrong (a torn, truncated or corrupted file).
std::string batch_file_archive(const std::string& file_bytes);

/// 16 hex digits identifying what a run consumes: the classifier's metadata and weights, the
/// images and the targets (FNV-1a over their bytes). Equal inputs give equal fingerprints.
std::string run_fingerprint(Classifier& F, const torch::Tensor& images,
                            const torch::Tensor& targets);

}  // namespace cfx
