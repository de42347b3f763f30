// Device synchronisation and memory readings (see device_sync.h).
#include "runtime/device_sync.h"

#include <fstream>
#include <string>

#ifdef SDW_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace sdw {
namespace {

int64_t status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(k, 0) == 0) return std::stoll(line.substr(k.size()));
  return 0;
}

}  // namespace

int64_t current_rss_bytes() { return status_kb("VmRSS") * 1024; }

void synchronize(const at::Device& device) {
#ifdef SDW_WITH_CUDA
  if (device.is_cuda()) c10::cuda::device_synchronize();
#endif
  (void)device;
}

int64_t peak_memory_bytes(const at::Device& device) {
#ifdef SDW_WITH_CUDA
  if (device.is_cuda()) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[0].peak;  // aggregate
  }
#endif
  return status_kb("VmHWM") * 1024;
}

void reset_peak_memory(const at::Device& device) {
#ifdef SDW_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
  (void)device;
}

}  // namespace sdw
