// How many CPU threads cfx computes with. LibTorch's own default counts physical cores from
// the machine's topology (one thread on the 2-core machine this was measured on) and ignores
// the process's CPU affinity and container quota; cfx decides instead.
#pragma once

#include <string>

namespace cfx {

/// CPUs this process may run on: the affinity mask (sched_getaffinity), capped by a cgroup
/// CPU quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us) rounded up. At
/// least 1.
int available_cpus();

/// The thread count cfx uses when none is asked for: OMP_NUM_THREADS if it holds a positive
/// integer (the standard way to share a machine between processes), else available_cpus().
int default_threads();

/// Sets LibTorch's intra-op thread count. `requested` <= 0 means default_threads().
/// Throws cfx::Error for a value above 1024. Returns the count now in force.
int set_threads(int requested = 0);

/// The intra-op thread count in force (at::get_num_threads()).
int threads();

/// "2 threads (one per available CPU; 2 CPUs available)", "1 thread (from OMP_NUM_THREADS; 2
/// CPUs available)" or "4 threads (as asked; ...)": the count and where it came from, for
/// `cfx info` and run notes.
std::string threads_description();

}  // namespace cfx
