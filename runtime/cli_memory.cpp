// `generate` / `serve` memory and speed flags (see cli_memory.h).
#include "runtime/cli_memory.h"

#include <CLI/CLI.hpp>

#include <stdexcept>

#include "model/nn/attention_slice_value.h"

namespace sdw {

void add_memory_options(CLI::App& app, MemoryOptions& o) {
  app.add_flag("--vae-tiling", o.vae_tiling,
               "decode and encode in overlapping VAE tiles, as diffusers' enable_vae_tiling (default: only when the "
               "plain pass would not fit the device's free memory)");
  app.add_option("--vae-tile-size", o.vae_tile_size,
                 "VAE tile size in image pixels (diffusers' tile_sample_min_size; default: the VAE's sample_size)")
      ->check(CLI::Range(int64_t{8}, int64_t{8192}));
  app.add_option("--vae-tile-overlap", o.vae_tile_overlap,
                 "VAE tile overlap as a fraction of a tile (diffusers' tile_overlap_factor; default 0.25)")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--attention-slicing", o.attention_slicing,
                 "UNet attention in slices of (batch, head) pairs, as diffusers' set_attention_slice: auto (heads/2), "
                 "max (1) or a slice size (default: off)");
  app.add_option("--taesd", o.taesd_dir, "a TAESD folder (diffusers' AutoencoderTiny, e.g. madebyollin/taesd; taesdxl for SDXL)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--final-decoder", o.final_decoder,
                 "vae (default) or taesd: TAESD replaces the VAE for the final image and img2img encodes (needs --taesd)")
      ->check(CLI::IsMember({"vae", "taesd"}));
  app.add_option("--preview-decoder", o.preview_decoder,
                 "latent (default: the linear latent-to-RGB approximation) or taesd: step previews through TAESD (needs --taesd)")
      ->check(CLI::IsMember({"latent", "taesd"}));
  app.add_option_function<std::string>(
         "--offload", [&o](const std::string& v) { o.offload = parse_offload_mode(v); },
         "CPU offload for GPUs smaller than the model: model (the weights in host memory, each part moved to the GPU "
         "for its stage, as diffusers' enable_model_cpu_offload) or sequential (layer by layer, as "
         "enable_sequential_cpu_offload: least memory, slowest); default none")
      ->check(CLI::IsMember({"none", "model", "sequential"}));
  add_speed_options(app, o.deepcache, o.tome);
}

void add_speed_options(CLI::App& app, DeepCacheOptions& deepcache, TomeOptions& tome) {
  app.add_option("--deepcache", deepcache.interval,
                 "DeepCache: a full UNet step every N steps, the steps between reuse its deep features (default: off; "
                 "1 = every step full, the exact image)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--deepcache-branch", deepcache.branch,
                 "DeepCache's cache_branch_id: the skip connection the shallow branch ends at (default 0: the fastest)")
      ->check(CLI::Range(0, 63));
  app.add_option("--tome", tome.ratio,
                 "token merging (ToMe for SD): the share of tokens merged before self-attention at full resolution, "
                 "e.g. 0.5 (default: off)")
      ->check(CLI::Range(0.0, 0.95));
}

void check_offload_device(const MemoryOptions& o, const at::Device& device) {
  if (o.offload != OffloadMode::none && device.is_cpu())
    throw std::invalid_argument(std::string("--offload ") + offload_mode_name(o.offload) +
                                " moves weights from host memory to a GPU; on the CPU they are in host memory already "
                                "(use --dtype fp16 there to halve them)");
}

void check_memory_options(const MemoryOptions& o) {
  nn::check_attention_slicing(o.attention_slicing);
  if ((o.final_decoder == "taesd" || o.preview_decoder == "taesd") && o.taesd_dir.empty())
    throw std::invalid_argument("--final-decoder taesd and --preview-decoder taesd need --taesd DIR");
}

}  // namespace sdw
