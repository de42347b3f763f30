// Turns what a user passes as --model into a loaded SdModel: "demo" (or nothing), a diffusers
// folder, a single checkpoint file (refused with a clear reason where not supported), or a Hugging
// Face repo "org/name[@revision]" / catalog version, downloaded into the Hub cache (hub_model.h).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "model/nn/device_names.h"
#include "model/pipeline/sd_model.h"
#include "runtime/hub_model.h"

namespace sdw {

class ModelSourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::shared_ptr<SdModel> load_model(const std::string& model, const ModelLoadOptions& options);

// --dtype of `generate` and `bench`: fp32 | fp16 | bf16 (parse_dtype), or fp8 (fp16 with the
// denoiser's Linear layers in fp8 on a CUDA GPU: ModelLoadOptions::fp8). Sets options.dtype and
// options.fp8; throws std::invalid_argument for another word, or fp8 without a CUDA device or
// without fp8 in this build. Call after options.device is set.
void apply_dtype_choice(const std::string& dtype, ModelLoadOptions& options);

}  // namespace sdw
