// How a process loads and runs its model: the settings `serve` (WorkerConfig), `sd-worker node`
// (NodeOptions) and `generate --stage` share, so a node can be given everything the front worker
// can (single-file configs, speed switches, memory options, SD3's T5, embeddings, ControlNets).
// The loader turns them into ModelLoadOptions (actors/loader.h: apply_load_settings). Plain C++:
// nothing here includes CAF.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/pipeline/memory_options.h"

namespace sdw {

class EmbeddingLibrary;  // model/embeddings/embedding_library.h

struct ModelLoadSettings {
  std::string model = "demo";  // "demo", a diffusers folder, a single file, a Hub repo id, ...
  std::string dtype = "fp32";  // fp32 | fp16 | bf16 | fp8 (parse_dtype_name)
  // Single-file .safetensors checkpoints only: a diffusers folder whose configs to use, and a VAE
  // file replacing the checkpoint's (ModelLoadOptions::config_dir / vae_file). Empty: not given.
  std::string model_config_dir;
  std::string vae_file;
  // Textual-inversion embeddings prompts may name (--embeddings-dir); null: none. The encoder
  // stage uses them, so a node serving it needs the same folders as the front.
  std::shared_ptr<EmbeddingLibrary> embeddings;
  // --controlnet PATH: ControlNets loaded with the model at start (those that fit it), their
  // weights counted in the memory estimate checked before loading.
  std::vector<std::string> controlnets;
  // Speed switches (ModelLoadOptions): CUDA graph replay of the UNet step, channels_last weights
  // (unset: on for CUDA, off elsewhere), fused self-attention QKV (unset: SDW_FUSE_QKV, else on
  // for CUDA only; nn/fused_qkv.h).
  bool cuda_graphs = true;
  std::optional<bool> channels_last;
  std::optional<bool> fuse_qkv;
  MemoryOptions memory;  // VAE tiling, attention slicing, TAESD, offload, DeepCache, ToMe
  // SD3 models (ModelLoadOptions): false loads no T5 (its memory saved; jobs asking t5: true are
  // refused), jobs' default max_sequence_length (0: 256), and the device T5 runs on ("": the
  // stage device; "cpu" beside a GPU transformer).
  bool load_t5 = true;
  int max_sequence_length = 0;
  std::string t5_device;
  // Memory the loader may plan with (weights + activations estimate); 0: the device's free memory
  // (MemAvailable on CPU, the card's free bytes on CUDA). A model that does not fit is refused.
  int64_t memory_budget_bytes = 0;
};

}  // namespace sdw
