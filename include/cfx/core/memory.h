// Peak memory of a piece of work: the process's resident-set high-water mark (Linux /proc),
// measured from a baseline taken just before the work started.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace cfx {

/// Bytes this process can still get without swapping or being killed: the kernel's
/// MemAvailable (/proc/meminfo), lowered by a cgroup memory limit (v2 memory.max minus
/// memory.current, v1 limit_in_bytes minus usage_in_bytes). -1 where that is unknown.
/// CFX_MEMORY_LIMIT_MB, when set to a positive number, replaces it (tests, shared machines).
int64_t available_memory_bytes();

/// Refuses work that needs at least `bytes` when less memory is available, before anything
/// is allocated: throws cfx::Error "<what> needs at least X GB of memory but Y GB are
/// available; <advice>". Does nothing where available_memory_bytes() is unknown. Callers pass
/// lower bounds, so a refusal is never wrong; work that passes can still run out, which the
/// run layer reports as one line too (out_of_memory_message).
void check_memory_fits(double bytes, const std::string& what, const std::string& advice);

/// True if `what` (an exception's message) says an allocation failed.
bool is_out_of_memory(const std::string& what);

/// Measures how far the resident set size (RSS) of this process rose above its level at
/// construction. On Linux the constructor hands freed heap memory back to the OS (so memory
/// kept from earlier work is not reused unseen), resets the kernel's high-water mark
/// (`/proc/self/clear_refs`, value 5) and records VmRSS; peak_mb() reads VmHWM. Where that is
/// not possible (not Linux, /proc not writable) peak_mb() returns NaN. With a CUDA device,
/// it measures that GPU instead: the caching allocator's peak of allocated bytes since
/// construction, above the amount allocated then (host memory is then not counted). Not
/// thread-safe against another PeakMemory in the process.
class PeakMemory {
 public:
  explicit PeakMemory(c10::Device device = c10::kCPU);
  /// VmHWM − baseline VmRSS in MB (2^20 bytes), ≥ 0; NaN when not measurable.
  double peak_mb() const;
  /// Whether this platform could measure (false: peak_mb() is NaN).
  bool available() const { return baseline_kb_ >= 0; }

 private:
  long long baseline_kb_ = -1;
  int cuda_device_ = -1;  // >= 0: measuring this GPU, baseline_kb_ its allocated kB
};

}  // namespace cfx
