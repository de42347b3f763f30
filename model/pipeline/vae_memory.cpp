// VAE tiling choice (see vae_memory.h).
#include "model/pipeline/vae_memory.h"

#include <stdexcept>
#include <string>

#include "model/nn/attention_slicing.h"
#include "model/pipeline/taesd_use.h"

namespace sdw {

int64_t vae_pass_bytes(const AutoencoderKLConfig& c, int64_t batch, int64_t height, int64_t width, int64_t elem) {
  const int64_t f = c.scale_factor();
  const int64_t tokens = (height / f) * (width / f);
  const int64_t first = c.block_out_channels.empty() ? 128 : c.block_out_channels.front();
  // Seven full-resolution maps of the last block (measured: the plain SD1.5 decode at 512x512 grows
  // the process by 1.06 GiB = 8.5 such maps with the attention scores; the loader's estimate, three
  // maps, is a floor, not a peak) plus the mid-block attention scores and their softmax.
  return batch * (7 * first * height * width * elem + 2 * tokens * tokens * elem);
}

bool vae_tiles(const AutoencoderKLConfig& config, const MemoryOptions& options, std::optional<bool> requested,
               const at::Tensor& input, bool decoding, int64_t elem_size, int64_t free_bytes) {
  if (requested) return *requested;
  if (options.vae_tiling) return true;
  if (free_bytes < 0) return false;
  const int64_t f = decoding ? config.scale_factor() : 1;
  return vae_pass_bytes(config, input.size(0), input.size(2) * f, input.size(3) * f, elem_size) > free_bytes;
}

void apply_memory_options(SdModel& model, const MemoryOptions& options) {
  model.memory = options;
  const bool settings_given = options.vae_tile_size > 0 || options.vae_tile_overlap >= 0;
  std::optional<VaeTiling> tiling;
  if (model.vae) {
    try {
      tiling = VaeTiling::with(model.vae->config(), options.vae_tile_size, options.vae_tile_overlap);
    } catch (const std::invalid_argument&) {
      if (settings_given) throw;  // a VAE whose own defaults do not tile evenly: never tiled
    }
  }
  if (tiling) {
    model.vae->enable_tiling(*tiling);
    // The closure holds the job's choice (shared with the model) and copies of the settings.
    auto job = model.vae_tiling_job;
    const AutoencoderKLConfig config = model.vae->config();
    const at::Device device = model.device;
    const int64_t elem = static_cast<int64_t>(c10::elementSize(model.vae_activation_dtype()));
    model.vae->tile_when = [job, options, config, device, elem](const at::Tensor& input, bool decoding) {
      const bool decided = job->has_value() || options.vae_tiling;
      return vae_tiles(config, options, *job, input, decoding, elem, decided ? -1 : device_free_bytes(device));
    };
  }
  if (model.unet) nn::set_attention_slice(*model.unet, options.attention_slicing);
  attach_taesd(model, options);
}

VaeTilingScope::VaeTilingScope(SdModel& model, std::optional<bool> requested)
    : model_(model), previous_(*model.vae_tiling_job) {
  *model_.vae_tiling_job = requested;
}

VaeTilingScope::~VaeTilingScope() { *model_.vae_tiling_job = previous_; }

}  // namespace sdw
