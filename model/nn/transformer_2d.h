// diffusers' Transformer2DModel (continuous input) with BasicTransformerBlock (self-attention,
// cross-attention, GEGLU feed-forward), as used by the SD/SDXL UNets.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "model/nn/attention.h"
#include "model/nn/layers.h"

#include <memory>

namespace sdw::nn {

struct TomeState;  // token_merge.h

struct Transformer2DOptions {
  int64_t heads = 8;
  int64_t dim_head = 40;
  int64_t in_channels = 0;
  int64_t num_layers = 1;
  int64_t cross_attention_dim = 768;
  int64_t norm_num_groups = 32;
  bool use_linear_projection = false;
  bool upcast_attention = false;
  bool only_cross_attention = false;
};

// GEGLU: proj -> (hidden, gate) -> hidden * gelu(gate)
class GEGLUImpl : public torch::nn::Module {
 public:
  GEGLUImpl(int64_t dim_in, int64_t dim_out, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [B, L, dim_in] -> [B, L, dim_out]
  Linear proj{nullptr};
};
TORCH_MODULE(GEGLU);

// FeedForward: net.0 = GEGLU(dim, 4*dim), net.1 = dropout (no weights), net.2 = Linear(4*dim, dim)
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::ModuleList net;
  GEGLU geglu{nullptr};
  Linear out{nullptr};
};
TORCH_MODULE(FeedForward);

class BasicTransformerBlockImpl : public torch::nn::Module {
 public:
  BasicTransformerBlockImpl(int64_t dim, const Transformer2DOptions& o, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context);  // [B, L, dim]
  LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  Attention attn1{nullptr}, attn2{nullptr};
  FeedForward ff{nullptr};
  bool only_cross_attention_;
  // Token merging (token_merge.h) for the UNet call running now; null: off. Set by TomeScope.
  std::shared_ptr<TomeState> tome_;

 private:
  at::Tensor forward_tome(const at::Tensor& x, const at::Tensor& context);
};
TORCH_MODULE(BasicTransformerBlock);

class Transformer2DModelImpl : public torch::nn::Module {
 public:
  Transformer2DModelImpl(const Transformer2DOptions& o, const at::TensorOptions& options);
  // x: [B, C, H, W], context: [B, L, cross_dim] -> [B, C, H, W]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context);
  Transformer2DOptions o_;
  GroupNorm norm{nullptr};
  Conv2d proj_in_conv{nullptr}, proj_out_conv{nullptr};
  Linear proj_in_linear{nullptr}, proj_out_linear{nullptr};
  torch::nn::ModuleList transformer_blocks;
  std::vector<BasicTransformerBlock> blocks_;
};
TORCH_MODULE(Transformer2DModel);

}  // namespace sdw::nn
