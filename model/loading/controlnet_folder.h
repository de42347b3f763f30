// Loading a diffusers ControlNetModel folder (`config.json` + `diffusion_pytorch_model[.fp16].safetensors`)
// by name, strictly, as the pipeline components are (diffusers_folder.h), or a single-file
// ControlNet (controlnet_single_file.h): every caller passes either and these functions tell them apart.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/nets/controlnet.h"

namespace sdw {

// Whether `dir` looks like a ControlNet folder (a config.json whose _class_name is ControlNetModel).
bool is_controlnet_folder(const std::string& dir);

// Builds the ControlNet from `<dir>/config.json` with `options` and loads its weights. Throws
// LoadError naming the folder and the problem (missing/mismatched tensors, unsupported config).
// A single .safetensors file is loaded by load_controlnet_file (with `like`; `variant` unused).
ControlNetModel load_controlnet(const std::string& dir, const at::TensorOptions& options, const std::string& variant = "",
                                const UNet2DConditionConfig* like = nullptr);

// A ControlNet folder or a single-file ControlNet.
bool is_controlnet_path(const std::string& path);

// The config of a folder (its config.json) or of a single file (from its shapes, with `like`),
// without reading weights. Throws LoadError naming the path.
ControlNetConfig read_controlnet_config(const std::string& path, const UNet2DConditionConfig* like = nullptr);

// What a job or listing calls the ControlNet: a folder's name, a file's name without .safetensors.
std::string controlnet_name(const std::string& path);

}  // namespace sdw
