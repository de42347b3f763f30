// How much memory one job needs beyond the model's weights, estimated from its resolved request
// before it is queued (the loader refuses a job over its device's budget with out_of_memory,
// instead of letting it fail halfway or, on a CPU, wake the kernel's OOM killer).
//
// The estimate is the largest of the job's stages, each at the size and batch it runs at (hires:
// the second pass's size; classifier-free guidance doubles the denoiser's batch):
// - the UNet: the skip connections every down block keeps for its up block, plus the largest
//   level's working set (a transformer block's feed-forward, 12 maps wide with GEGLU, its
//   attention's q/k/v/output, and the scores as the attention route on this device holds them,
//   nn::attention_work_bytes; or a resnet on the up path's concatenated input); each ControlNet
//   adds its own down path;
// - SD3's transformer: its joint tokens through one block (MLP 4x wide) and the attention;
// - the VAE decode (and an img2img/inpaint encode): seven full-resolution maps of its last block
//   and its mid-block attention, or, where the decode will be tiled (the job's vae_tiling, the
//   worker's --vae-tiling, or automatically: vae_memory.h's rule, against `budget`), one tile's
//   pass plus the decoded tiles and the blended image.
// The denoiser's count of live tensors is doubled (the heap's gaps between a step's many block
// sizes, measured), and each stage gets a fixed 16 MiB of library scratch (job_memory.cpp).
// tests/model/pipeline/test_job_memory.cpp checks it covers the measured peak growth of jobs.
#pragma once

#include <cstdint>
#include <string>

#include "model/pipeline/request.h"
#include "model/pipeline/sd_model.h"

namespace sdw {

struct JobMemory {
  int64_t denoiser_bytes = 0;  // UNet (+ ControlNets) or SD3 transformer, one step
  int64_t vae_bytes = 0;       // the decode, or the encode where it is larger
  bool vae_tiled = false;      // the estimate assumes a tiled decode
  int64_t total() const { return denoiser_bytes > vae_bytes ? denoiser_bytes : vae_bytes; }
  // "1.2 GiB (UNet step 1.2 GiB, VAE decode 0.4 GiB tiled)"
  std::string describe() const;
};

// `budget`: the bytes the job may use (< 0: unknown; then only an explicit choice tiles the VAE).
JobMemory estimate_job_memory(const SdModel& model, const ResolvedRequest& r, int64_t budget);

}  // namespace sdw
