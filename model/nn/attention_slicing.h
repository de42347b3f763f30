// diffusers' set_attention_slice (UNet2DConditionModel, v0.30) with SlicedAttnProcessor: each
// attention layer computes its scores batch*heads entries at a time, `slice_size` entries per
// chunk (the last one shorter), so only [slice_size, Lq, Lk] scores live at once instead of
// [batch*heads, Lq, Lk]. The result is the unsliced one up to float reassociation.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <string>

#include "model/nn/attention_slice_value.h"  // check_attention_slicing

namespace sdw::nn {

// The slice size for layers of `heads` heads: 0 (off) for "" or "none", heads / 2 for "auto"
// (diffusers: sliceable_head_dim // 2), 1 for "max", else the positive integer given (at most
// `heads`, as diffusers checks). Throws std::invalid_argument naming the value otherwise.
int64_t attention_slice_size(const std::string& value, int64_t heads);

// Sets every Attention module under `root` (the UNet) to `value`'s slice size.
void set_attention_slice(torch::nn::Module& root, const std::string& value);

// softmax(q k^T * scale) v computed `slice_size` (batch, head) pairs at a time, each through
// scaled_dot_product_attention (attention.h). q: [B, h, Lq, d], k/v: [B, h, Lk, d] -> [B, h, Lq, d].
at::Tensor sliced_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool upcast,
                            int64_t slice_size);

}  // namespace sdw::nn
