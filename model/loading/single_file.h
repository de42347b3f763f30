// Single-file Stable Diffusion checkpoints in the original (CompVis/LDM, SGM for SDXL) layout, as
// `.safetensors`: recognising the family (SD1.x, SD1.x inpainting, SD2.x, SDXL base) from tensor
// names and shapes, choosing the
// diffusers configs (shipped with the worker, or a --config folder), converting the names
// (single_file_keys.h) and loading UNet, VAE and text encoder strictly. Mirrors diffusers'
// `FromSingleFileMixin.from_single_file` (infer_diffusers_model_type + the convert_ldm_* functions).
#pragma once

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#include <string>

#include "model/nets/autoencoder_kl.h"
#include "model/nets/clip_text_model.h"
#include "model/loading/single_file_keys.h"
#include "model/loading/state_dict.h"
#include "model/safetensors/safetensors.h"
#include "model/nets/unet_2d_condition.h"

namespace sdw {

// What the tensors of a checkpoint say about it.
struct SingleFileDetection {
  TextTower text = TextTower::openai_clip;
  int64_t unet_in_channels = 0;     // model.diffusion_model.input_blocks.0.0.weight [C, in, 3, 3]
  int64_t cross_attention_dim = 0;  // attn2.to_k.weight [C, context]
  bool has_vae = false;             // first_stage_model.* present
  // The shipped config folder it matches: "sd15", "sd15-inpaint", "sd21", "sdxl"; "" if none does.
  std::string family;
  std::string description;  // for messages, e.g. "text encoder OpenAI CLIP ..., cross-attention width 768, ..."
};

// Throws LoadError when the file is not an LDM Stable Diffusion checkpoint (no UNet, no text tower).
SingleFileDetection detect_single_file(const SafetensorsFile& file);

struct SingleFileOptions {
  std::string config_dir;    // --config: a diffusers folder whose component configs (and tokenizer) apply
  std::string vae_path;      // --vae: a VAE .safetensors (diffusers or LDM names) replacing the file's VAE
  std::string configs_root;  // the shipped configs: <data>/configs/<family>/
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  bool vae_fp32 = true;  // as ModelLoadOptions::vae_fp32
};

struct SingleFileComponents {
  SingleFileDetection detection;
  std::string config_dir;  // where the configs came from (--config or <configs_root>/<family>)
  std::string family;      // shipped family used ("" with --config)
  CLIPTextModel text_encoder{nullptr};
  CLIPTextModel text_encoder_2{nullptr};  // SDXL: OpenCLIP bigG with its projection
  UNet2DConditionModel unet{nullptr};
  AutoencoderKL vae{nullptr};
  at::ScalarType vae_dtype = at::kFloat;
  nlohmann::json scheduler_config;
  std::string pipeline_class;  // model_index.json of --config, else by the UNet's input channels
  std::string tokenizer_dir;   // <config_dir>/tokenizer when present, else "" (the caller picks by text tower)
  std::string tokenizer_2_dir; // SDXL: <config_dir>/tokenizer_2 when present, else ""
  nlohmann::json model_index;  // <config_dir>/model_index.json when present, else {}
  size_t ignored_tensors = 0;  // tensors skipped by an ignore rule
};

// Loads `path`. Every tensor must be converted or ignored by a rule; problems (unknown, missing or
// misshaped tensors, named by their stored name and the diffusers name) are listed in one LoadError.
SingleFileComponents load_single_file(const std::string& path, const SingleFileOptions& options);

// A standalone VAE file: diffusers names (also the pre-0.14 attention names), LDM names with or
// without `first_stage_model.` (of a full checkpoint only the first_stage_model.* tensors are read).
AutoencoderKL load_vae_file(const std::string& path, const AutoencoderKLConfig& config, const at::TensorOptions& options);

}  // namespace sdw
