// The memory flags of `generate` and `serve` (issue 24; model/pipeline/memory_options.h):
// --vae-tiling, --vae-tile-size N, --vae-tile-overlap F (diffusers' enable_vae_tiling with its
// tile_sample_min_size / tile_overlap_factor), --attention-slicing auto|max|N, and TAESD:
// --taesd DIR with --final-decoder taesd and/or --preview-decoder taesd.
#pragma once

#include <string>

#include "model/pipeline/memory_options.h"

namespace CLI {
class App;
}

namespace sdw {

void add_memory_options(CLI::App& app, MemoryOptions& options);

// Checks the values CLI11 cannot (the attention slicing word, TAESD without --taesd); throws
// std::invalid_argument.
void check_memory_options(const MemoryOptions& options);

}  // namespace sdw
