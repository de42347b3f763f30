// Attention: the one scaled-dot-product function every model uses (SDPA on libtorch 2.x, an
// explicit matmul/softmax on Debian's 1.13), and diffusers' `Attention` module (to_q/to_k/to_v/
// to_out.0, optional group_norm and residual as in the VAE's mid-block attention).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "model/nn/layers.h"

namespace sdw::nn {

// softmax(q k^T * scale + mask) v over the last two dims.
// q: [B, heads, Lq, d], k/v: [B, heads, Lk, d] -> [B, heads, Lq, d].
// `upcast`: compute scores and softmax in fp32 (diffusers' upcast_attention/upcast_softmax).
// `causal`: mask keys after the query position (CLIP text encoder).
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                        bool upcast);

// Bytes the attention of q [b, heads, lq, d] against lk keys holds beside q, k, v and its output
// on `device` with `dtype` activations, by the route scaled_dot_product_attention takes there (and
// sliced_attention's `slice_size` pairs at a time, 0: unsliced): SDPA's kernels (libtorch 2.x) and
// the CPU's blocked attention keep a block of scores per thread; the per-head oneDNN route one
// head's scores and probabilities; the generic route every pair's (upcast: in fp32).
int64_t attention_work_bytes(const at::Device& device, at::ScalarType dtype, int64_t b, int64_t heads, int64_t lq,
                             int64_t lk, int64_t d, bool upcast, int64_t slice_size);

struct AttentionOptions {
  int64_t query_dim = 0;
  int64_t cross_attention_dim = 0;  // 0: self-attention (keys from the query input)
  int64_t heads = 8;
  int64_t dim_head = 64;
  bool qkv_bias = false;
  bool upcast = false;           // upcast_attention / upcast_softmax
  int64_t norm_num_groups = 0;   // > 0: a GroupNorm named group_norm over the input (VAE)
  double norm_eps = 1e-6;
  bool residual_connection = false;
};

// diffusers.models.attention_processor.Attention (AttnProcessor semantics).
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const AttentionOptions& o, const at::TensorOptions& options);
  // x: [B, L, query_dim] (or [B, C, H, W] for the VAE form); context: [B, Lk, cross_dim] or undefined.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context = {});

  AttentionOptions o_;
  // > 0: scores computed this many (batch, head) pairs at a time (attention_slicing.h).
  int64_t slice_size = 0;
  GroupNorm group_norm{nullptr};
  Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
  torch::nn::ModuleList to_out;  // [0] = Linear(inner, query_dim)
  Linear to_out0{nullptr};
  // Self-attention with fused projections (fused_qkv.h): [3*inner, query_dim], not a registered
  // module (to_q/to_k/to_v's parameters are views into it); null: unfused.
  Linear to_qkv{nullptr};
};
TORCH_MODULE(Attention);

// Splits [B, L, heads*d] into [B, heads, L, d] and back.
at::Tensor split_heads(const at::Tensor& x, int64_t heads);
at::Tensor merge_heads(const at::Tensor& x);

}  // namespace sdw::nn
