// How much memory a device has for more work now: read before a model loads (the loader's
// budget), before each job's denoising starts (the denoiser's live check, actors/denoiser.cpp) and
// before each VAE pass (automatic tiling, vae_memory.h). What this process already holds and can
// reuse counts as free: the CUDA caching allocator's reserved but unallocated blocks, and on a
// CPU the heap's freed chunks (glibc keeps them for the next allocation rather than returning them).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace sdw {

// Free memory on `device` in bytes: CUDA, cudaMemGetInfo's free bytes plus this process's cached
// free blocks on that card; a CPU, /proc/meminfo's MemAvailable plus the heap's free bytes
// (mallinfo2). -1 where it cannot be read (MPS; then nothing is checked or tiled automatically).
int64_t device_free_bytes(const at::Device& device);

}  // namespace sdw
