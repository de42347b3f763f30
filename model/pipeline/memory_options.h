// The memory settings of a loaded model (issue 24): diffusers' VAE tiling (`enable_vae_tiling`
// with its tile_sample_min_size / tile_overlap_factor) and the UNet's attention slicing
// (`enable_attention_slicing`), TAESD as final or preview decoder, and CPU offload. Set by `generate` and `serve` flags through ModelLoadOptions;
// a job may turn tiling on or off for itself (GenerationRequest::vae_tiling).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "model/pipeline/speed_options.h"

namespace sdw {

// --offload (offload.h): where the weights live between the stages that use them. The words are
// parsed here, without libtorch, so the flag parsers (and their fuzz target) need no model library.
enum class OffloadMode { none, model, sequential };

// "none" | "model" | "sequential"; throws std::invalid_argument naming the choices.
inline OffloadMode parse_offload_mode(const std::string& name) {
  if (name == "none") return OffloadMode::none;
  if (name == "model") return OffloadMode::model;
  if (name == "sequential") return OffloadMode::sequential;
  throw std::invalid_argument("offload must be none, model or sequential, not '" + name + "'");
}

inline const char* offload_mode_name(OffloadMode mode) {
  switch (mode) {
    case OffloadMode::model: return "model";
    case OffloadMode::sequential: return "sequential";
    case OffloadMode::none: break;
  }
  return "none";
}

struct MemoryOptions {
  // --vae-tiling: every VAE decode / encode larger than one tile is tiled (diffusers'
  // enable_vae_tiling). Off, a decode or encode is still tiled when its estimated activations do
  // not fit the device's free memory (vae_memory.h), unless the job says vae_tiling: false.
  bool vae_tiling = false;
  int64_t vae_tile_size = 0;       // --vae-tile-size: tile_sample_min_size in pixels (0: the VAE's sample_size)
  double vae_tile_overlap = -1;    // --vae-tile-overlap: tile_overlap_factor (< 0: 0.25)
  // --attention-slicing: "" (off), "auto" (heads / 2), "max" (1) or a slice size, as diffusers'
  // set_attention_slice over the UNet's attention layers (model/nn/attention_slicing.h).
  std::string attention_slicing;
  // TAESD (model/pipeline/taesd_use.h): its folder (--taesd DIR), and where it is used:
  // --final-decoder vae|taesd (taesd: it replaces the VAE for decode and encode) and
  // --preview-decoder latent|taesd (the step previews).
  std::string taesd_dir;
  std::string final_decoder = "vae";
  std::string preview_decoder = "latent";
  // Less work per image (speed_options.h): --deepcache N / --deepcache-branch B and --tome RATIO,
  // the worker's default for jobs that do not say.
  DeepCacheOptions deepcache;
  TomeOptions tome;
  // --offload none|model|sequential: model CPU offload (one part on the device at a time) or
  // sequential offload (layer by layer); offload.h.
  OffloadMode offload = OffloadMode::none;
};

}  // namespace sdw
