// `sd-worker generate --stage STAGE=HOST:PORT ...` (docs/distributed.md): a one-off job through the
// actors, with the mapped stages on `sd-worker node`s, instead of generate's in-process pipeline.
#pragma once

#include <string>

#include "actors/model_load_settings.h"
#include "model/pipeline/request.h"
#include "runtime/cli_stages.h"

namespace sdw {

struct RemoteGenerate {
  std::string device;
  // The model and how this process loads and runs its stages, as generate's own flags say:
  // --config, --vae, the memory options (VAE tiling, attention slicing, offload, TAESD, DeepCache,
  // ToMe), CUDA graphs, channels_last, fused QKV, SD3's T5, embeddings. A node keeps its own.
  ModelLoadSettings load;
  GenerationRequest request;
  StageCliOptions stages;
  std::string output;  // .png / .jpg; several images: out-0.png, out-1.png, ...
  bool jpeg = false;
  int jpeg_quality = 90;
};

// Starts the actors with the remote stages, waits for the model and the node links (every link
// leaves "connecting"; one that is not up is named on stderr: its stage then runs here), runs the
// job and writes its images. Returns the exit code (1: the job failed, with its error on stderr).
int generate_on_nodes(const RemoteGenerate& g);

}  // namespace sdw
