// glibc malloc settings for tensor-sized blocks (see cpu_allocator.h).
#include "model/nn/cpu_allocator.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace sdw::nn {

bool configure_cpu_allocator() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_")) return false;
  const char* mode = std::getenv("SDW_CPU_MALLOC");
  if (mode && std::strcmp(mode, "default") == 0) return false;
  return ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kCpuMmapThresholdBytes)) == 1;
#else
  return false;
#endif
}

void release_free_cpu_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

}  // namespace sdw::nn
