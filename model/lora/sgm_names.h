// The original SGM/LDM UNet block names of SDXL kohya LoRA files (`input_blocks_4_1_proj_in`)
// as diffusers module names written with '_' (`down_blocks_1_attentions_0_proj_in`), following
// diffusers' `_maybe_map_sgm_blocks_to_diffusers` and `_convert_unet_lora_key`:
//   input_blocks_i_j   -> down_blocks_{(i-1)/(L+1)}_{resnets|attentions}_{(i-1)%(L+1)}  (j = 0 | 1),
//   input_blocks_i_0_op -> down_blocks_{(i-1)/(L+1)}_downsamplers_0_conv,
//   middle_block_0/1/2 -> mid_block_resnets_0 / mid_block_attentions_0 / mid_block_resnets_1,
//   output_blocks_i_j  -> up_blocks_{i/(L+1)}_{resnets|attentions|upsamplers}_{i%(L+1) | 0}
//   (L = layers_per_block); inside resnets in_layers_2 = conv1, out_layers_3 = conv2,
//   skip_connection = conv_shortcut, emb_layers_1 = time_emb_proj.
// One departure: `output_blocks_i_1_conv` (the upsampler of an up block without attention,
// which SGM numbers 1) becomes `upsamplers_0_conv`; diffusers turns it into `attentions_N_conv`,
// a module that does not exist.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sdw {

// True when `module` (a kohya UNet module name without `lora_unet_`) uses SGM block names.
bool is_sgm_unet_name(const std::string& module);
// The diffusers name (with '_'), or nullopt for names outside the blocks (time_embed, out, ...)
// or with block numbers that cannot be read.
std::optional<std::string> sgm_to_diffusers_name(const std::string& module, int64_t layers_per_block);

}  // namespace sdw
