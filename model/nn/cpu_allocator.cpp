// glibc malloc settings for tensor-sized blocks (see cpu_allocator.h).
#include "model/nn/cpu_allocator.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "model/nn/winograd_conv.h"

namespace sdw::nn {
namespace {

std::atomic<bool> configured{false};

}  // namespace

bool configure_cpu_allocator() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_")) return false;
  const char* mode = std::getenv("SDW_CPU_MALLOC");
  if (mode && std::strcmp(mode, "default") == 0) return false;
  const bool ok = ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kCpuMmapThresholdBytes)) == 1;
  configured = ok;
  return ok;
#else
  return false;
#endif
}

void release_free_cpu_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

CpuDecodeAllocScope::CpuDecodeAllocScope() : active_(configured.load()) {
  release_winograd_scratch();  // the UNet's buffer: the decode's convolutions size their own
#if defined(__GLIBC__)
  if (!active_) return;
  ::malloc_trim(0);
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kCpuDecodeMmapThresholdBytes));
#endif
}

CpuDecodeAllocScope::~CpuDecodeAllocScope() {
  release_winograd_scratch();  // the UNet's and the decode's Winograd buffers (winograd_conv.h)
#if defined(__GLIBC__)
  if (!active_) return;
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kCpuMmapThresholdBytes));
  ::malloc_trim(0);
#endif
}

}  // namespace sdw::nn
