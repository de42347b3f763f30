// Transformer2DModel and BasicTransformerBlock (see transformer_2d.h).
#include "model/nn/transformer_2d.h"

#include "model/nn/token_merge.h"

namespace sdw::nn {

GEGLUImpl::GEGLUImpl(int64_t dim_in, int64_t dim_out, const at::TensorOptions& options) {
  proj = register_module("proj", Linear(dim_in, dim_out * 2, true, options));
}

at::Tensor GEGLUImpl::forward(const at::Tensor& x) {
  auto parts = proj->forward(x).chunk(2, -1);  // 2 x [B, L, dim_out]
  return at::gelu(parts[1]).mul_(parts[0]);     // = hidden * gelu(gate), without a third buffer
}

FeedForwardImpl::FeedForwardImpl(int64_t dim, const at::TensorOptions& options) {
  const int64_t inner = dim * 4;
  geglu = GEGLU(dim, inner, options);
  out = Linear(inner, dim, true, options);
  // Index 1 is a dropout in diffusers (no parameters): an empty module keeps the numbering.
  net = register_module("net", torch::nn::ModuleList(geglu, std::make_shared<torch::nn::Module>(), out));
}

at::Tensor FeedForwardImpl::forward(const at::Tensor& x) { return out->forward(geglu->forward(x)); }

BasicTransformerBlockImpl::BasicTransformerBlockImpl(int64_t dim, const Transformer2DOptions& o,
                                                     const at::TensorOptions& options)
    : only_cross_attention_(o.only_cross_attention) {
  AttentionOptions self;
  self.query_dim = dim;
  self.heads = o.heads;
  self.dim_head = o.dim_head;
  self.upcast = o.upcast_attention;
  self.cross_attention_dim = o.only_cross_attention ? o.cross_attention_dim : 0;
  AttentionOptions cross = self;
  cross.cross_attention_dim = o.cross_attention_dim;
  norm1 = register_module("norm1", LayerNorm(dim, 1e-5, options));
  attn1 = register_module("attn1", Attention(self, options));
  norm2 = register_module("norm2", LayerNorm(dim, 1e-5, options));
  attn2 = register_module("attn2", Attention(cross, options));
  norm3 = register_module("norm3", LayerNorm(dim, 1e-5, options));
  ff = register_module("ff", FeedForward(dim, options));
}

at::Tensor BasicTransformerBlockImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  if (tome_) return forward_tome(x, context);
  // (The residual sums are in place on the sub-layers' fresh outputs: same values, fewer buffers.)
  // 1. self-attention (cross-attention when only_cross_attention)
  at::Tensor h = attn1->forward(norm1->forward(x), only_cross_attention_ ? context : at::Tensor()).add_(x);
  // 2. cross-attention on the text embeddings
  h = attn2->forward(norm2->forward(h), context).add_(h);
  // 3. feed-forward
  return ff->forward(norm3->forward(h)).add_(h);
}

at::Tensor BasicTransformerBlockImpl::forward_tome(const at::Tensor& x, const at::Tensor& context) {
  // tomesd's ToMeBlock: the matching from the block's input, merge after each norm, unmerge the
  // sub-layer's output before its residual (each off where the settings say so).
  const BipartiteMerge m = tome_merge_for(x, *tome_);  // inactive: merge and unmerge are identities
  const TomeSettings& s = tome_->settings;
  auto merge = [&](bool on, const at::Tensor& t) { return on ? m.merge(t) : t; };
  auto unmerge = [&](bool on, const at::Tensor& t) { return on ? m.unmerge(t) : t; };
  at::Tensor h = unmerge(s.merge_attn, attn1->forward(merge(s.merge_attn, norm1->forward(x)),
                                                      only_cross_attention_ ? context : at::Tensor()))
                     .add_(x);  // [B, L, dim]
  h = unmerge(s.merge_crossattn, attn2->forward(merge(s.merge_crossattn, norm2->forward(h)), context)).add_(h);
  return unmerge(s.merge_mlp, ff->forward(merge(s.merge_mlp, norm3->forward(h)))).add_(h);
}

Transformer2DModelImpl::Transformer2DModelImpl(const Transformer2DOptions& o, const at::TensorOptions& options)
    : o_(o) {
  const int64_t inner = o.heads * o.dim_head;
  norm = register_module("norm", GroupNorm(o.norm_num_groups, o.in_channels, 1e-6, options));
  if (o.use_linear_projection)
    proj_in_linear = register_module("proj_in", Linear(o.in_channels, inner, true, options));
  else
    proj_in_conv = register_module("proj_in", Conv2d(o.in_channels, inner, 1, 1, 0, true, options));
  transformer_blocks = register_module("transformer_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    blocks_.push_back(BasicTransformerBlock(inner, o, options));
    transformer_blocks->push_back(blocks_.back());
  }
  if (o.use_linear_projection)
    proj_out_linear = register_module("proj_out", Linear(inner, o.in_channels, true, options));
  else
    proj_out_conv = register_module("proj_out", Conv2d(inner, o.in_channels, 1, 1, 0, true, options));
}

at::Tensor Transformer2DModelImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  at::Tensor residual = x;
  // 1. input: norm + projection to [B, HW, inner]
  at::Tensor y = norm->forward(x);
  int64_t inner;
  if (o_.use_linear_projection) {
    y = y.permute({0, 2, 3, 1}).reshape({b, h * w, x.size(1)});  // [B, HW, C]
    y = proj_in_linear->forward(y);                               // [B, HW, inner]
    inner = y.size(2);
  } else {
    y = proj_in_conv->forward(y);  // [B, inner, H, W]
    inner = y.size(1);
    y = y.permute({0, 2, 3, 1}).reshape({b, h * w, inner});  // [B, HW, inner]
  }
  // 2. blocks
  for (auto& block : blocks_) y = block->forward(y, context);
  // 3. output projection back to [B, C, H, W] + residual
  if (o_.use_linear_projection) {
    y = proj_out_linear->forward(y);                                        // [B, HW, C]
    y = y.reshape({b, h, w, x.size(1)}).permute({0, 3, 1, 2}).contiguous();  // [B, C, H, W]
  } else {
    y = y.reshape({b, h, w, inner}).permute({0, 3, 1, 2}).contiguous();  // [B, inner, H, W]
    y = proj_out_conv->forward(y);                                        // [B, C, H, W]
  }
  return y.add_(residual);  // y is a fresh buffer
}

}  // namespace sdw::nn
