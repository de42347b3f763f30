// glibc malloc settings for tensor-sized CPU allocations. By default glibc serves a block of up
// to 32 MiB from its heaps once a block that size has been freed (its mmap threshold rises with
// every freed mapped block), and freed heap memory stays in the RSS: the UNet's freed activations
// then sat beside the VAE decode's, and SD1.5 fp32 at 256x256 peaked at 4.67 GiB in the decode
// (4.41 GiB with the fixed threshold below; docs/memory.md, "Where the peak came from").
#pragma once

#include <cstddef>

namespace sdw::nn {

// Blocks of at least this many bytes are mapped on their own and unmapped when freed.
constexpr size_t kCpuMmapThresholdBytes = size_t{1} << 20;

// Fixes glibc's mmap threshold at kCpuMmapThresholdBytes (no dynamic raise), unless the user set
// MALLOC_MMAP_THRESHOLD_ (glibc's own variable, which then wins) or SDW_CPU_MALLOC=default. Call
// once at start, before any model is built. Returns whether it changed the setting.
bool configure_cpu_allocator();

// Returns freed heap pages to the system (malloc_trim(0)); between stages and after loading.
void release_free_cpu_memory();

}  // namespace sdw::nn
