// Loading a diffusers ControlNetModel folder (`config.json` + `diffusion_pytorch_model[.fp16].safetensors`)
// by name, strictly, as the pipeline components are (diffusers_folder.h).
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/nets/controlnet.h"

namespace sdw {

// Whether `dir` looks like a ControlNet folder (a config.json whose _class_name is ControlNetModel).
bool is_controlnet_folder(const std::string& dir);

// Builds the ControlNet from `<dir>/config.json` with `options` and loads its weights. Throws
// LoadError naming the folder and the problem (missing/mismatched tensors, unsupported config).
ControlNetModel load_controlnet(const std::string& dir, const at::TensorOptions& options, const std::string& variant = "");

}  // namespace sdw
