#include "cfx/core/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include "cfx/config.h"
#include "cfx/core/error.h"
#if CFX_WITH_CUDA
#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace cfx {

namespace {

// A "Key:  123 kB" line of a /proc file (/proc/self/status, /proc/meminfo) in kB, or -1.
long long proc_kb(const char* file, const char* key) {
  std::ifstream in(file);
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::atoll(line.c_str() + n + 1);
  return -1;
}

long long status_kb(const char* key) { return proc_kb("/proc/self/status", key); }

// The first number in a file (cgroup files hold one value, or "max"), or -1.
long long file_number(const char* path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word.empty() || word[0] < '0' || word[0] > '9') return -1;
  return std::atoll(word.c_str());
}

std::string gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, bytes < 1e10 ? "%.2f" : "%.0f", bytes / 1e9);
  return buf;
}

}  // namespace

int64_t available_memory_bytes() {
  if (const char* env = std::getenv("CFX_MEMORY_LIMIT_MB")) {
    double mb = std::atof(env);
    if (mb > 0) return static_cast<int64_t>(mb * 1048576.0);
  }
  long long avail_kb = proc_kb("/proc/meminfo", "MemAvailable");
  int64_t avail = avail_kb < 0 ? -1 : static_cast<int64_t>(avail_kb) * 1024;
  // A container's limit is below what the host has free.
  auto lower = [&](long long limit, long long usage) {
    if (limit < 0 || usage < 0 || limit >= (1LL << 60)) return;
    const int64_t left = limit > usage ? limit - usage : 0;
    avail = avail < 0 ? left : std::min(avail, left);
  };
  lower(file_number("/sys/fs/cgroup/memory.max"), file_number("/sys/fs/cgroup/memory.current"));
  lower(file_number("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        file_number("/sys/fs/cgroup/memory/memory.usage_in_bytes"));
  return avail;
}

void check_memory_fits(double bytes, const std::string& what, const std::string& advice) {
  const int64_t avail = available_memory_bytes();
  if (avail < 0 || bytes <= static_cast<double>(avail)) return;
  fail(what, " needs at least ", gigabytes(bytes), " GB of memory but ",
       gigabytes(static_cast<double>(avail)), " GB are available; ", advice);
}

bool is_out_of_memory(const std::string& what) {
  return what.find("can't allocate memory") != std::string::npos ||
         what.find("out of memory") != std::string::npos ||
         what.find("std::bad_alloc") != std::string::npos;
}

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
