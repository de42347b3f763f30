// Device synchronisation and memory readings (see device_sync.h).
#include "runtime/device_sync.h"

#include <fstream>
#include <string>

#ifdef SDW_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#ifndef SDW_NO_CUDA_ALLOC_STATS
#define SDW_CUDA_ALLOC_STATS 1
#include <c10/cuda/CUDACachingAllocator.h>
#endif
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
  if (device.is_cuda()) {
    c10::cuda::device_synchronize();
    return;
  }
#endif
  // Any other accelerator (mps; cuda in a build without the CUDA code): reading a value back
  // waits for the device's queued work.
  if (!device.is_cpu()) (void)at::zeros({1}, at::TensorOptions().device(device)).item<float>();
}

int64_t peak_memory_bytes(const at::Device& device) {
#ifdef SDW_WITH_CUDA
  if (device.is_cuda()) {
#ifdef SDW_CUDA_ALLOC_STATS
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[0].peak;  // aggregate
#else
    return 0;  // not read in this build (-DSDW_CUDA_ALLOC_STATS=OFF)
#endif
  }
#endif
  return status_kb("VmHWM") * 1024;
}

void reset_peak_memory(const at::Device& device) {
#ifdef SDW_CUDA_ALLOC_STATS
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
  // A CPU's peak is the process's VmHWM: writing 5 to clear_refs resets it to the current RSS
  // (Linux >= 4.0), so each bench stage reports its own peak and not the model build's.
  if (device.is_cpu()) std::ofstream("/proc/self/clear_refs") << "5";
}

}  // namespace sdw
