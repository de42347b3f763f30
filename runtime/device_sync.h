// Waiting for a device's queued work (for timing) and reading its memory high-water mark. The
// one place with CUDA-only code, behind SDW_WITH_CUDA (set by CMake when libtorch has CUDA).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace sdw {

void synchronize(const at::Device& device);
// Peak bytes allocated on the device since the last reset (CUDA), or the process's peak RSS (CPU).
int64_t peak_memory_bytes(const at::Device& device);
void reset_peak_memory(const at::Device& device);
// Current resident set size of this process.
int64_t current_rss_bytes();

}  // namespace sdw
