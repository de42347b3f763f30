// Loading the components of a diffusers pipeline folder (`model_index.json`, `<component>/config.json`,
// `*.safetensors`, `*.<variant>.safetensors`, sharded `*.safetensors.index.json`) by name, strictly.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/nets/autoencoder_kl.h"
#include "model/nets/clip_text_model.h"
#include "model/loading/state_dict.h"
#include "model/nets/unet_2d_condition.h"

namespace sdw {

nlohmann::json read_json_file(const std::string& path);

// The weight variant a model of `dtype` loads: "fp16" for fp16 and bf16 (half the bytes to read;
// rounding fp16 weights to bf16 gives what rounding the fp32 ones would, but for rare ties), ""
// (the plain files) for fp32. The variant file is
// preferred and the plain one the fallback (find_weight_files); the Hub download picks the same.
std::string weight_variant_for(at::ScalarType dtype);

// The safetensors file(s) holding a component's weights. With `variant` ("fp16"), the variant
// file is preferred and the plain one used when the folder has no variant. Throws LoadError
// listing what was looked for (and naming `.bin` files, which are refused: pickle).
std::vector<std::string> find_weight_files(const std::string& component_dir, const std::string& variant = "");
// All tensors of a component (shards merged). Views into the mapped files.
std::map<std::string, at::Tensor> read_component_tensors(const std::string& component_dir,
                                                         const std::string& variant = "");

// Each builds the module from `<dir>/config.json` with `options` (dtype, device) and loads its weights.
UNet2DConditionModel load_unet(const std::string& dir, const at::TensorOptions& options, const std::string& variant = "");
AutoencoderKL load_vae(const std::string& dir, const at::TensorOptions& options, const std::string& variant = "");
CLIPTextModel load_text_encoder(const std::string& dir, const at::TensorOptions& options,
                                const std::string& variant = "");

// A pipeline folder: model_index.json and the component folders it names.
struct DiffusersFolder {
  std::string root;
  nlohmann::json model_index;
  std::string pipeline_class;  // e.g. "StableDiffusionPipeline"

  static DiffusersFolder open(const std::string& root);
  bool has(const std::string& component) const;
  std::string path(const std::string& component) const { return root + "/" + component; }
};

}  // namespace sdw
