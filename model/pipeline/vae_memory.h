// When a VAE decode / encode is tiled: the job's choice, else the model's --vae-tiling, else
// automatically when the plain pass's estimated activations exceed the device's free memory
// (device_memory.h, this process's reusable cache included). The estimate, per image: seven
// full-resolution feature maps of the decoder's last block (measured, vae_memory.cpp) plus the
// mid-block attention scores over h*w latent tokens.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

#include "model/nets/autoencoder_kl.h"
#include "model/pipeline/device_memory.h"
#include "model/nets/vae_tiling.h"
#include "model/pipeline/memory_options.h"
#include "model/pipeline/sd_model.h"

namespace sdw {

// Estimated activation bytes of one plain VAE decode (or encode) of `batch` images of
// height x width pixels at `elem_size` bytes per element.
int64_t vae_pass_bytes(const AutoencoderKLConfig& config, int64_t batch, int64_t height, int64_t width,
                       int64_t elem_size);

// Installs `options` on `model` (called by every loader, through apply_speed_options): the VAE's
// tile settings (VaeTiling::with; throws std::invalid_argument for settings diffusers mis-sizes)
// and its per-call choice (the job's vae_tiling, else --vae-tiling, else the memory rule above),
// and the UNet's attention slicing.
void apply_memory_options(SdModel& model, const MemoryOptions& options);

// Whether a pass over `input` is tiled for a job asking `requested` (nullopt: not given).
// `free_bytes` < 0: unknown (no automatic tiling).
bool vae_tiles(const AutoencoderKLConfig& config, const MemoryOptions& options, std::optional<bool> requested,
               const at::Tensor& input, bool decoding, int64_t elem_size, int64_t free_bytes);

// A job's vae_tiling for the passes run while the scope lives (the device thread runs one job's
// stage at a time).
class VaeTilingScope {
 public:
  VaeTilingScope(SdModel& model, std::optional<bool> requested);
  ~VaeTilingScope();
  VaeTilingScope(const VaeTilingScope&) = delete;
  VaeTilingScope& operator=(const VaeTilingScope&) = delete;

 private:
  SdModel& model_;
  std::optional<bool> previous_;
};

}  // namespace sdw
