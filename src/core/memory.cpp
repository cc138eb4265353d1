#include "cfx/core/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include "cfx/config.h"
#if CFX_WITH_CUDA
#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace cfx {

namespace {

// A "Vm...:  123 kB" line of /proc/self/status in kB, or -1.
long long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::atoll(line.c_str() + n + 1);
  return -1;
}

}  // namespace

#if CFX_WITH_CUDA
namespace {
// Index 0 of the allocator's stat arrays is the aggregate over pool types in LibTorch 1.13
// and 2.x alike (StatType::AGGREGATE moved namespaces between them).
long long cuda_allocated_kb(int device, bool peak) {
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
  const auto& s = stats.allocated_bytes[0];
  return (peak ? s.peak : s.current) / 1024;
}
}  // namespace
#endif

PeakMemory::PeakMemory(c10::Device device) {
  if (device.is_cuda()) {
#if CFX_WITH_CUDA
    cuda_device_ = device.has_index() ? device.index() : 0;
    // The allocator knows no device before CUDA's lazy start ("Invalid device argument").
    at::empty({1}, at::TensorOptions().device(c10::kCUDA, cuda_device_));
    c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_device_);
    baseline_kb_ = cuda_allocated_kb(cuda_device_, false);
#endif
    return;
  }
#if defined(__linux__)
#if defined(__GLIBC__)
  malloc_trim(0);  // freed blocks kept by keep_freed_memory() would otherwise be reused unseen
#endif
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return;
  bool ok = std::fputs("5", f) >= 0;
  ok = std::fclose(f) == 0 && ok;
  if (ok) baseline_kb_ = status_kb("VmRSS");
#endif
}

double PeakMemory::peak_mb() const {
  if (baseline_kb_ < 0) return std::numeric_limits<double>::quiet_NaN();
#if CFX_WITH_CUDA
  long long hwm = cuda_device_ >= 0 ? cuda_allocated_kb(cuda_device_, true) : status_kb("VmHWM");
#else
  long long hwm = status_kb("VmHWM");
#endif
  if (hwm < 0) return std::numeric_limits<double>::quiet_NaN();
  return hwm > baseline_kb_ ? static_cast<double>(hwm - baseline_kb_) / 1024.0 : 0.0;
}

}  // namespace cfx
