// `sd-worker generate --stage STAGE=HOST:PORT ...` (docs/distributed.md): a one-off job through the
// actors, with the mapped stages on `sd-worker node`s, instead of generate's in-process pipeline.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/pipeline/memory_options.h"
#include "model/pipeline/request.h"
#include "runtime/cli_stages.h"

namespace sdw {

struct RemoteGenerate {
  std::string model, device, dtype;
  GenerationRequest request;
  StageCliOptions stages;
  std::string output;  // .png / .jpg; several images: out-0.png, out-1.png, ...
  bool jpeg = false;
  int jpeg_quality = 90;
  // How this process loads and runs its stages, as generate's own flags say (serve's WorkerConfig
  // fields): --config-dir, --vae-file, the memory options (VAE tiling, attention slicing,
  // offload), CUDA graphs, channels_last, SD3's T5, embeddings. A node keeps its own.
  std::string config_dir, vae_file;
  MemoryOptions memory;
  bool cuda_graphs = true;
  std::optional<bool> channels_last;
  bool load_t5 = true;
  std::string t5_device;
  std::vector<std::string> embedding_dirs;
};

// Starts the actors with the remote stages, waits for the model and the node links (every link
// leaves "connecting"; one that is not up is named on stderr: its stage then runs here), runs the
// job and writes its images. Returns the exit code (1: the job failed, with its error on stderr).
int generate_on_nodes(const RemoteGenerate& g);

}  // namespace sdw
