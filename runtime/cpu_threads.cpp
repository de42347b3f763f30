// libtorch's intra-op thread count (see cpu_threads.h).
#include "runtime/cpu_threads.h"

#include <ATen/Parallel.h>
#ifdef __linux__
#include <sched.h>
#endif

#include <cstdlib>
#include <string>
#include <thread>

namespace sdw {

int configure_cpu_threads(bool tiny_model) {
  if (const char* v = std::getenv("SDW_CPU_THREADS"); v && *v) {
    const int n = std::atoi(v);
    if (n > 0) at::set_num_threads(n);
    return at::get_num_threads();
  }
  if (const char* v = std::getenv("OMP_NUM_THREADS"); v && *v) return at::get_num_threads();
  if (tiny_model) {
    at::set_num_threads(1);
    return 1;
  }
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);  // what we may run on
#endif
  if (cpus > at::get_num_threads()) at::set_num_threads(cpus);
  return at::get_num_threads();
}

}  // namespace sdw
