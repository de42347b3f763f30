// The weight change one LoRA layer makes, as diffusers' PEFT layers compute it when fusing
// (`get_delta_weight`): delta = factor * up @ down, factor = strength * alpha / rank, in float32.
//   Linear        [out, in]:          up [out, r] @ down [r, in]
//   1x1 Conv2d    [out, in, 1, 1]:    the same with the 1x1 dims squeezed and restored
//   3x3 Conv2d    [out, in, kh, kw]:  (up[:, :, 0, 0] @ down.flatten(1)).view(out, in, kh, kw) (LoCon)
// A 2-D down/up may target a 1x1 convolution and a [r, in, 1, 1] down a Linear (files differ).
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/lora/lora_file.h"

namespace sdw {

// True when the layer's down/up give a delta of `weight_sizes`.
bool lora_fits(const LoraLayer& layer, at::IntArrayRef weight_sizes);
// Throws LoraError naming the file's key, the LoRA's shapes and the weight's, when it does not fit.
void check_lora_fits(const LoraLayer& layer, at::IntArrayRef weight_sizes, const std::string& file,
                     const std::string& target);

// [weight_sizes] float32 on `device`. `factor` = strength * layer.scale().
at::Tensor lora_delta(const LoraLayer& layer, at::IntArrayRef weight_sizes, double factor, const at::Device& device);

}  // namespace sdw
