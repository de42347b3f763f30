// Loads a TAESD folder (diffusers' AutoencoderTiny: config.json + diffusion_pytorch_model
// .safetensors, e.g. madebyollin/taesd or taesdxl) strictly by name.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/nets/autoencoder_tiny.h"

namespace sdw {

// Throws LoadError naming the problem: no config.json, a config of another class, a missing,
// unexpected or mis-shaped tensor.
AutoencoderTiny load_taesd(const std::string& dir, const at::TensorOptions& options);

}  // namespace sdw
