// Single-file ControlNet weights (.safetensors only; pickle files are refused): the original
// lllyasviel / A1111 layout (`control_model.input_blocks.*`, `control_model.input_hint_block.*`,
// `control_model.zero_convs.N.0.*`, `control_model.middle_block[_out].*`, `control_model.time_embed.*`,
// SDXL's `control_model.label_emb.*`), the same without the `control_model.` prefix, and diffusers'
// names in one file without a config.json (how SDXL ControlNets are usually shipped). Mirrors
// diffusers' `convert_controlnet_checkpoint` (the UNet names through single_file_keys.h's LDM map,
// the ControlNet's own: input_hint_block 0 / 2k / last -> controlnet_cond_embedding conv_in /
// blocks.(k-1) / conv_out, zero_convs.N.0 -> controlnet_down_blocks.N, middle_block_out.0 ->
// controlnet_mid_block). The config comes from the tensor shapes (levels, layers, channels,
// attention levels, transformer depth, linear projections, cross-attention width, latent and hint
// channels, the conditioning embedding, SDXL's added embedding); what the shapes do not fix
// (attention heads, GroupNorm groups, the time-id embedding width, upcast_attention) is taken from
// the UNet the ControlNet runs with (`like`: a ControlNet is a copy of its base model's encoder),
// else from the family's diffusers config (heads: 8 for a 768-wide cross-attention, else width/64).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

#include "model/nets/controlnet.h"
#include "model/nets/unet_2d_condition.h"

namespace sdw {

// Whether `path` is a .safetensors file whose tensor names are a ControlNet's (any layout above).
bool is_controlnet_file(const std::string& path);

// The config of a ControlNet file, from its header. Throws LoadError (a pickle file, not a
// ControlNet, an architecture diffusers' ControlNetModel cannot express).
ControlNetConfig controlnet_file_config(const std::string& path, const UNet2DConditionConfig* like = nullptr);

// The file's tensors under diffusers' ControlNetModel names. Throws LoadError listing every stored
// name no rule converts.
std::map<std::string, at::Tensor> controlnet_file_tensors(const std::string& path);

// Builds the ControlNet of `path` with `options` and loads it strictly.
ControlNetModel load_controlnet_file(const std::string& path, const at::TensorOptions& options,
                                     const UNet2DConditionConfig* like = nullptr);

}  // namespace sdw
