#include "cfx/core/threads.h"

#include <ATen/Parallel.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cfx/core/error.h"

namespace cfx {

namespace {

// A positive integer, or 0 for anything else ("", "abc", "-1", "2x").
int positive_int(const char* s) {
  if (s == nullptr || *s == '\0') return 0;
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  return (*end == '\0' && v > 0 && v <= 1 << 20) ? static_cast<int>(v) : 0;
}

// CPUs a cgroup quota allows, or 0 where no quota is set or readable.
int cgroup_quota_cpus() {
  // cgroup v2: "max 100000" or "150000 100000" in the process's own cgroup; the mount point
  // shows the process's cgroup inside a container.
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) {
    if (quota == "max" || period <= 0) return 0;
    return static_cast<int>(std::ceil(std::atof(quota.c_str()) / period));
  }
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
      p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double q = -1, p = 0;
  if (q1 >> q && p1 >> p && q > 0 && p > 0) return static_cast<int>(std::ceil(q / p));
  return 0;
}

}  // namespace

int available_cpus() {
  int n = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  int quota = cgroup_quota_cpus();
  if (quota > 0 && quota < n) n = quota;
  return std::max(1, n);
}

namespace {
// OMP_NUM_THREADS as a positive count, or 0 when unset or not one.
int threads_from_env() { return positive_int(std::getenv("OMP_NUM_THREADS")); }
}  // namespace

int default_threads() {
  const int env = threads_from_env();
  return env > 0 ? env : available_cpus();
}

// Where the count in force came from, for threads_description(); LibTorch's own until
// set_threads() runs.
namespace {
std::string g_source = "LibTorch's default";
}

int set_threads(int requested) {
  CFX_CHECK(requested <= 1024, "threads: ", requested,
            " is too many (at most 1024; 0 = ", default_threads(), ", the default)");
  int n = requested > 0 ? requested : default_threads();
  g_source = requested > 0            ? "as asked"
             : threads_from_env() > 0 ? "from OMP_NUM_THREADS"
                                      : "one per available CPU";
  at::set_num_threads(n);
  return at::get_num_threads();
}

int threads() { return at::get_num_threads(); }

std::string threads_description() {
  int n = threads();
  std::ostringstream os;
  int cpus = available_cpus();
  os << n << (n == 1 ? " thread (" : " threads (") << g_source << "; " << cpus
     << (cpus == 1 ? " CPU" : " CPUs") << " available)";
  return os.str();
}

}  // namespace cfx
