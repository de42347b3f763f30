// The model-loading flags of `serve` and `node` (see cli_model_load.h).
#include "runtime/cli_model_load.h"

#include <CLI/CLI.hpp>

#include <stdexcept>

#include "runtime/cli_memory.h"

namespace sdw {

std::vector<std::string> add_model_load_options(CLI::App& app, ModelLoadCli& o) {
  app.add_option("--model-config", o.model_config_dir, "single-file checkpoints: a diffusers folder with the configs")
      ->check(CLI::ExistingDirectory);
  app.add_option("--vae", o.vae_file, "single-file checkpoints: a VAE .safetensors replacing the checkpoint's")
      ->check(CLI::ExistingFile);
  app.add_option("--memory-limit-mb", o.memory_limit_mb,
                 "memory the model may use on its device; a model whose estimate is larger is refused (default: "
                 "the device's free memory: MemAvailable on CPU, the card's free bytes on CUDA)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_flag("--no-cuda-graphs", o.no_cuda_graphs, "run the UNet step eagerly on CUDA (default: one CUDA graph per shape, replayed)");
  app.add_flag("--channels-last", o.channels_last,
               "UNet convolutions in channels_last (NHWC) memory format (default: on for CUDA, off elsewhere)");
  app.add_flag("--no-channels-last", o.no_channels_last, "UNet convolutions in NCHW also on CUDA");
  app.add_option("--fuse-qkv", o.fuse_qkv,
                 "self-attention q/k/v from one fused product: on, off or auto (default auto: SDW_FUSE_QKV, else on "
                 "for CUDA only)")
      ->check(CLI::IsMember({"on", "off", "auto"}));
  app.add_flag("--no-t5", o.no_t5,
               "SD3: do not load the T5 encoder (saves its memory: 9.5 GB for T5-XXL in fp16); jobs get zeros for "
               "its part, and a job asking t5: true is refused (400)");
  app.add_option("--max-sequence-length", o.max_sequence_length, "SD3: T5's token count for jobs that give none (default 256)")
      ->check(CLI::Range(1, 512));
  app.add_option("--t5-device", o.t5_device,
                 "SD3: run the T5 encoder on this device (cpu | cuda:N | mps; default: the stage device), e.g. the CPU "
                 "while the transformer runs on a GPU (fp16 becomes bf16 for T5 on the CPU)");
  add_memory_options(app, o.memory);
  app.add_option("--embeddings-dir", o.embedding_dirs,
                 "folder of textual-inversion .safetensors embeddings prompts may name (repeatable)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--controlnet", o.controlnets,
                 "a diffusers ControlNet folder or single .safetensors file jobs may name in `controlnets` by its "
                 "folder name or file name without .safetensors (repeatable)")
      ->check(CLI::ExistingPath);
  return {"no-cuda-graphs", "channels-last", "no-channels-last", "no-t5", "vae-tiling"};
}

void check_model_load_options(const ModelLoadCli& o) {
  if (o.channels_last && o.no_channels_last)
    throw std::invalid_argument("--channels-last contradicts --no-channels-last");
  check_memory_options(o.memory);
}

}  // namespace sdw
