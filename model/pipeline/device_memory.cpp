// Free device memory (see device_memory.h).
#include "model/pipeline/device_memory.h"

#include <malloc.h>

#include <fstream>
#include <sstream>
#include <string>

#ifdef SDW_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#ifndef SDW_NO_CUDA_ALLOC_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#endif

namespace sdw {
namespace {

int64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    int64_t kib = -1;
    fields >> kib;
    return kib < 0 ? -1 : kib * 1024;
  }
  return -1;
}

// Freed heap memory glibc keeps for this process's next allocations (every arena, the top chunks
// included): part of what the next job can use, though the kernel counts it as in use.
int64_t heap_free_bytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return static_cast<int64_t>(mallinfo2().fordblks);
#else
  return 0;
#endif
}

}  // namespace

int64_t device_free_bytes(const at::Device& device) {
#ifdef SDW_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDAGuard guard(device);
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) return -1;
    int64_t cached = 0;
#ifndef SDW_NO_CUDA_ALLOC_STATS
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    cached = stats.reserved_bytes[0].current - stats.allocated_bytes[0].current;  // aggregate pools
#endif
    return static_cast<int64_t>(free) + (cached > 0 ? cached : 0);
  }
#endif
  if (!device.is_cpu()) return -1;
  const int64_t available = mem_available();
  return available < 0 ? -1 : available + heap_free_bytes();
}

}  // namespace sdw
