// The memory flags of `generate` and `serve` (issue 24; model/pipeline/memory_options.h):
// --vae-tiling, --vae-tile-size N, --vae-tile-overlap F (diffusers' enable_vae_tiling with its
// tile_sample_min_size / tile_overlap_factor), --attention-slicing auto|max|N, and TAESD:
// --taesd DIR with --final-decoder taesd and/or --preview-decoder taesd; and the speed options
// --deepcache N / --deepcache-branch B / --tome RATIO (model/pipeline/speed_options.h), and
// --offload none|model|sequential (model/pipeline/offload.h).
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "model/pipeline/memory_options.h"

namespace CLI {
class App;
}

namespace sdw {

void add_memory_options(CLI::App& app, MemoryOptions& options);

// --deepcache N, --deepcache-branch B and --tome RATIO (speed_options.h); part of the memory flags,
// and bench's own.
void add_speed_options(CLI::App& app, DeepCacheOptions& deepcache, TomeOptions& tome);

// Checks the values CLI11 cannot (the attention slicing word, TAESD without --taesd); throws
// std::invalid_argument.
void check_memory_options(const MemoryOptions& options);
// --offload needs a GPU to offload from; throws std::invalid_argument on a CPU device.
void check_offload_device(const MemoryOptions& options, const at::Device& device);

}  // namespace sdw
