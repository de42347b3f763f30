// glibc malloc settings for tensor-sized CPU allocations. By default glibc serves a block of up
// to 32 MiB from its heaps once a block that size has been freed (its mmap threshold rises with
// every freed mapped block), and freed heap memory stays in the RSS: the UNet's freed activations
// then sat beside the VAE decode's, and SD1.5 fp32 at 256x256 peaked at 4.67 GiB in the decode.
// A threshold fixed at 1 MiB for the whole run brought that to 4.41 GiB but made every large
// UNet block a fresh mapping (page faults each step: the 256x256 step 2.3 -> 2.9 s). So the
// threshold is fixed at glibc's own ceiling (32 MiB: the UNet keeps its fast heap reuse) and
// lowered to 1 MiB only while the VAE decodes, after the loop's freed memory is handed back
// (docs/memory.md, "Where the peak came from").
#pragma once

#include <cstddef>

namespace sdw::nn {

// The decode's threshold: its blocks of at least this many bytes are mapped on their own and
// unmapped when freed.
constexpr size_t kCpuDecodeMmapThresholdBytes = size_t{1} << 20;
// Elsewhere: glibc's own upper bound for its dynamic threshold (64-bit), fixed from the start.
constexpr size_t kCpuMmapThresholdBytes = size_t{32} << 20;

// Fixes glibc's mmap threshold at kCpuMmapThresholdBytes and enables the decode scope, unless the
// user set MALLOC_MMAP_THRESHOLD_ (glibc's own variable, which then wins) or SDW_CPU_MALLOC=default.
// Call once at start, before any model is built. Returns whether it changed the setting.
bool configure_cpu_allocator();

// Returns freed heap pages to the system (malloc_trim(0)).
void release_free_cpu_memory();

// While it lives (a CPU VAE decode): freed memory handed back first, then the 1 MiB threshold;
// on exit the normal threshold and another hand-back. Does nothing unless configure_cpu_allocator
// changed the setting.
class CpuDecodeAllocScope {
 public:
  CpuDecodeAllocScope();
  ~CpuDecodeAllocScope();
  CpuDecodeAllocScope(const CpuDecodeAllocScope&) = delete;
  CpuDecodeAllocScope& operator=(const CpuDecodeAllocScope&) = delete;

 private:
  bool active_ = false;
};

}  // namespace sdw::nn
