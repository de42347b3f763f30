// The MMDiT blocks of diffusers' SD3Transformer2DModel (v0.30.3): AdaLayerNormZero,
// AdaLayerNormContinuous (normalization.py), FeedForward with GELU(tanh) (attention.py), the joint
// attention of JointAttnProcessor2_0 over [image tokens, context tokens] and JointTransformerBlock.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <array>

#include "model/nn/layers.h"

namespace sdw {

// linear(silu(emb)) -> shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp (in that
// order); returns LN(x) * (1 + scale_msa) + shift_msa and the five others ([N, D] each).
class AdaLayerNormZeroImpl : public torch::nn::Module {
 public:
  AdaLayerNormZeroImpl(int64_t dim, const at::TensorOptions& options);
  struct Out {
    at::Tensor x, gate_msa, shift_mlp, scale_mlp, gate_mlp;
  };
  Out forward(const at::Tensor& x, const at::Tensor& emb);  // x [N, L, D], emb [N, D]
  nn::Linear linear{nullptr};
  nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(AdaLayerNormZero);

// linear(silu(cond)) -> scale, shift (that order); LN(x) * (1 + scale) + shift.
class AdaLayerNormContinuousImpl : public torch::nn::Module {
 public:
  AdaLayerNormContinuousImpl(int64_t dim, int64_t conditioning_dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cond);  // x [N, L, D], cond [N, Dc]
  nn::Linear linear{nullptr};
  nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(AdaLayerNormContinuous);

// FeedForward(dim, activation_fn="gelu-approximate"): net.0.proj (dim -> 4 dim), GELU(tanh), net.2.
class SD3FeedForwardImpl : public torch::nn::Module {
 public:
  SD3FeedForwardImpl(int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::ModuleList net;
  nn::Linear proj{nullptr}, out{nullptr};
};
TORCH_MODULE(SD3FeedForward);

// Attention with added_kv_proj_dim (to_q/k/v, to_out.0 for the image stream; add_q/k/v_proj and,
// unless context_pre_only, to_add_out for the context), one softmax over both streams' tokens.
class JointAttentionImpl : public torch::nn::Module {
 public:
  JointAttentionImpl(int64_t dim, int64_t heads, int64_t head_dim, bool context_pre_only,
                     const at::TensorOptions& options);
  // x [N, Li, D], context [N, Lc, D] -> (image out [N, Li, D], context out [N, Lc, D] or undefined)
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x, const at::Tensor& context);
  nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr}, add_q_proj{nullptr}, add_k_proj{nullptr},
      add_v_proj{nullptr}, to_out0{nullptr}, to_add_out{nullptr};
  torch::nn::ModuleList to_out;
  int64_t heads_;
  bool context_pre_only_;
};
TORCH_MODULE(JointAttention);

class JointTransformerBlockImpl : public torch::nn::Module {
 public:
  JointTransformerBlockImpl(int64_t dim, int64_t heads, int64_t head_dim, bool context_pre_only,
                            const at::TensorOptions& options);
  struct Out {
    at::Tensor hidden, context;  // context undefined for a context_pre_only block
    at::Tensor norm1_out, gate_msa;  // for tests
  };
  Out forward(const at::Tensor& hidden, const at::Tensor& context, const at::Tensor& temb);
  AdaLayerNormZero norm1{nullptr}, norm1_context_zero{nullptr};
  AdaLayerNormContinuous norm1_context_continuous{nullptr};
  JointAttention attn{nullptr};
  nn::LayerNorm norm2{nullptr}, norm2_context{nullptr};
  SD3FeedForward ff{nullptr}, ff_context{nullptr};
  bool context_pre_only_;
};
TORCH_MODULE(JointTransformerBlock);

}  // namespace sdw
