// libtorch's intra-op thread count (see cpu_threads.h).
#include "runtime/cpu_threads.h"

#include <ATen/Parallel.h>
#include <sched.h>

#include <cstdlib>
#include <string>

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
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int cpus = CPU_COUNT(&set);
    if (cpus > at::get_num_threads()) at::set_num_threads(cpus);
  }
  return at::get_num_threads();
}

}  // namespace sdw
