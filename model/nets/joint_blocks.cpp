// MMDiT blocks (see joint_blocks.h), following diffusers v0.30.3's normalization.py,
// attention.py (JointTransformerBlock, FeedForward) and JointAttnProcessor2_0.
#include "model/nets/joint_blocks.h"

#include "model/nn/attention.h"

namespace sdw {

AdaLayerNormZeroImpl::AdaLayerNormZeroImpl(int64_t dim, const at::TensorOptions& options) {
  linear = register_module("linear", nn::Linear(dim, 6 * dim, true, options));
  norm = register_module("norm", nn::LayerNorm(dim, 1e-6, options, /*affine=*/false));
}

AdaLayerNormZeroImpl::Out AdaLayerNormZeroImpl::forward(const at::Tensor& x, const at::Tensor& emb) {
  auto c = linear->forward(at::silu(emb)).chunk(6, 1);  // 6 x [N, D]
  // c: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp
  at::Tensor h = norm->forward(x) * (1 + c[1].unsqueeze(1)) + c[0].unsqueeze(1);  // [N, L, D]
  return {h, c[2], c[3], c[4], c[5]};
}

AdaLayerNormContinuousImpl::AdaLayerNormContinuousImpl(int64_t dim, int64_t conditioning_dim,
                                                       const at::TensorOptions& options) {
  linear = register_module("linear", nn::Linear(conditioning_dim, 2 * dim, true, options));
  norm = register_module("norm", nn::LayerNorm(dim, 1e-6, options, /*affine=*/false));
}

at::Tensor AdaLayerNormContinuousImpl::forward(const at::Tensor& x, const at::Tensor& cond) {
  auto c = linear->forward(at::silu(cond).to(x.scalar_type())).chunk(2, 1);  // scale, shift: [N, D] each
  return norm->forward(x) * (1 + c[0].unsqueeze(1)) + c[1].unsqueeze(1);     // [N, L, D]
}

SD3FeedForwardImpl::SD3FeedForwardImpl(int64_t dim, const at::TensorOptions& options) {
  auto gelu = std::make_shared<torch::nn::Module>();  // GELU(dim, 4 dim, approximate="tanh")
  proj = gelu->register_module("proj", nn::Linear(dim, 4 * dim, true, options));
  out = nn::Linear(4 * dim, dim, true, options);
  // net.1 is the (parameter-free) dropout.
  net = register_module("net", torch::nn::ModuleList(gelu, std::make_shared<torch::nn::Module>(), out));
}

at::Tensor SD3FeedForwardImpl::forward(const at::Tensor& x) {
  return out->forward(at::gelu(proj->forward(x), "tanh"));  // [N, L, D]
}

JointAttentionImpl::JointAttentionImpl(int64_t dim, int64_t heads, int64_t head_dim, bool context_pre_only,
                                       const at::TensorOptions& options)
    : heads_(heads), context_pre_only_(context_pre_only) {
  const int64_t inner = heads * head_dim;
  to_q = register_module("to_q", nn::Linear(dim, inner, true, options));
  to_k = register_module("to_k", nn::Linear(dim, inner, true, options));
  to_v = register_module("to_v", nn::Linear(dim, inner, true, options));
  add_k_proj = register_module("add_k_proj", nn::Linear(dim, inner, true, options));
  add_v_proj = register_module("add_v_proj", nn::Linear(dim, inner, true, options));
  add_q_proj = register_module("add_q_proj", nn::Linear(dim, inner, true, options));
  to_out0 = nn::Linear(inner, dim, true, options);
  to_out = register_module("to_out", torch::nn::ModuleList(to_out0));
  if (!context_pre_only) to_add_out = register_module("to_add_out", nn::Linear(inner, dim, true, options));
}

std::pair<at::Tensor, at::Tensor> JointAttentionImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  const int64_t image_tokens = x.size(1);
  // Image tokens first, then the context's.
  at::Tensor q = nn::split_heads(at::cat({to_q->forward(x), add_q_proj->forward(context)}, 1), heads_);  // [N, h, Li+Lc, d]
  at::Tensor k = nn::split_heads(at::cat({to_k->forward(x), add_k_proj->forward(context)}, 1), heads_);
  at::Tensor v = nn::split_heads(at::cat({to_v->forward(x), add_v_proj->forward(context)}, 1), heads_);
  at::Tensor o = nn::merge_heads(nn::scaled_dot_product_attention(q, k, v, false, false));  // [N, Li+Lc, inner]
  at::Tensor image = to_out0->forward(o.slice(1, 0, image_tokens));                            // [N, Li, D]
  at::Tensor ctx;
  if (!context_pre_only_) ctx = to_add_out->forward(o.slice(1, image_tokens));                // [N, Lc, D]
  return {image, ctx};
}

JointTransformerBlockImpl::JointTransformerBlockImpl(int64_t dim, int64_t heads, int64_t head_dim,
                                                     bool context_pre_only, const at::TensorOptions& options)
    : context_pre_only_(context_pre_only) {
  norm1 = register_module("norm1", AdaLayerNormZero(dim, options));
  if (context_pre_only)
    norm1_context_continuous = register_module("norm1_context", AdaLayerNormContinuous(dim, dim, options));
  else
    norm1_context_zero = register_module("norm1_context", AdaLayerNormZero(dim, options));
  attn = register_module("attn", JointAttention(dim, heads, head_dim, context_pre_only, options));
  norm2 = register_module("norm2", nn::LayerNorm(dim, 1e-6, options, false));
  ff = register_module("ff", SD3FeedForward(dim, options));
  if (!context_pre_only) {
    norm2_context = register_module("norm2_context", nn::LayerNorm(dim, 1e-6, options, false));
    ff_context = register_module("ff_context", SD3FeedForward(dim, options));
  }
}

JointTransformerBlockImpl::Out JointTransformerBlockImpl::forward(const at::Tensor& hidden, const at::Tensor& context,
                                                                  const at::Tensor& temb) {
  // 1. adaLN-Zero modulation of both streams
  AdaLayerNormZero::Impl::Out n = norm1->forward(hidden, temb);  // [N, Li, D]
  AdaLayerNormZero::Impl::Out nc;
  at::Tensor context_in = context_pre_only_ ? norm1_context_continuous->forward(context, temb)
                                            : (nc = norm1_context_zero->forward(context, temb)).x;  // [N, Lc, D]
  // 2. joint attention, gated residual
  auto [attn_out, context_attn_out] = attn->forward(n.x, context_in);
  Out out;
  out.norm1_out = n.x;
  out.gate_msa = n.gate_msa;
  at::Tensor h = hidden + n.gate_msa.unsqueeze(1) * attn_out;
  // 3. feed-forward on the modulated norm, gated residual
  at::Tensor m = norm2->forward(h) * (1 + n.scale_mlp.unsqueeze(1)) + n.shift_mlp.unsqueeze(1);
  out.hidden = h + n.gate_mlp.unsqueeze(1) * ff->forward(m);  // [N, Li, D]
  if (context_pre_only_) return out;
  // 4. the same for the context stream
  at::Tensor c = context + nc.gate_msa.unsqueeze(1) * context_attn_out;
  at::Tensor mc = norm2_context->forward(c) * (1 + nc.scale_mlp.unsqueeze(1)) + nc.shift_mlp.unsqueeze(1);
  out.context = c + nc.gate_mlp.unsqueeze(1) * ff_context->forward(mc);  // [N, Lc, D]
  return out;
}

}  // namespace sdw
