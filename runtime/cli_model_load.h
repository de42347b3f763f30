// The flags that say how a model is loaded and run, shared by `sd-worker serve` and `sd-worker
// node` (a node takes the front worker's settings): --model-config, --vae, --memory-limit-mb,
// --no-cuda-graphs, --channels-last / --no-channels-last, --fuse-qkv, SD3's --no-t5,
// --max-sequence-length and --t5-device, the memory flags (cli_memory.h), --embeddings-dir and
// --controlnet. The model, device and dtype flags stay each command's own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/pipeline/memory_options.h"

namespace CLI {
class App;
}

namespace sdw {

// The flags as given.
struct ModelLoadCli {
  std::string model_config_dir, vae_file;  // single-file checkpoints only
  int64_t memory_limit_mb = 0;             // memory the model may plan with (0: the device's free memory)
  bool no_cuda_graphs = false, channels_last = false, no_channels_last = false;
  std::string fuse_qkv = "auto";  // on | off | auto
  bool no_t5 = false;             // SD3: load no T5
  int max_sequence_length = 0;    // SD3: jobs' default T5 token count (0: 256)
  std::string t5_device;          // SD3: T5's device ("": the stage device)
  MemoryOptions memory;
  std::vector<std::string> embedding_dirs;
  std::vector<std::string> controlnets;  // ControlNet folders or single files
};

// Adds the flags to `app`; returns the names of the boolean ones (a settings file's `true` turns
// them on: settings_file.h).
std::vector<std::string> add_model_load_options(CLI::App& app, ModelLoadCli& options);

// Checks what CLI11 cannot (contradicting flags, the attention-slicing word, TAESD without
// --taesd); throws std::invalid_argument. Plain C++ (the serve-config fuzz target links it without
// libtorch); load_settings.h turns the flags into ModelLoadSettings.
void check_model_load_options(const ModelLoadCli& options);

}  // namespace sdw
