// Attention (see attention.h).
#include "model/nn/attention.h"

#include <torch/version.h>

#include <cmath>

namespace sdw::nn {

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                        bool upcast) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
#if TORCH_VERSION_MAJOR >= 2
  if (!upcast || q.scalar_type() == at::kFloat) {
    return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, causal);
  }
#endif
  const auto in_dtype = q.scalar_type();
  at::Tensor qq = upcast ? q.to(at::kFloat) : q;
  at::Tensor kk = upcast ? k.to(at::kFloat) : k;
  at::Tensor scores = at::matmul(qq, kk.transpose(-1, -2)) * scale;  // [B, h, Lq, Lk]
  if (causal) {
    const int64_t lq = q.size(-2), lk = k.size(-2);
    at::Tensor mask = at::ones({lq, lk}, at::TensorOptions().dtype(at::kBool).device(q.device())).triu(1);
    scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
  }
  at::Tensor probs = at::softmax(scores, -1);
  if (upcast) probs = probs.to(in_dtype);
  return at::matmul(probs, v);  // [B, h, Lq, d]
}

at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  const int64_t b = x.size(0), l = x.size(1), inner = x.size(2);
  return x.view({b, l, heads, inner / heads}).transpose(1, 2);  // [B, h, L, d]
}

at::Tensor merge_heads(const at::Tensor& x) {
  const int64_t b = x.size(0), h = x.size(1), l = x.size(2), d = x.size(3);
  return x.transpose(1, 2).reshape({b, l, h * d});  // [B, L, h*d]
}

AttentionImpl::AttentionImpl(const AttentionOptions& o, const at::TensorOptions& options) : o_(o) {
  const int64_t inner = o.heads * o.dim_head;
  const int64_t kv_dim = o.cross_attention_dim > 0 ? o.cross_attention_dim : o.query_dim;
  if (o.norm_num_groups > 0)
    group_norm = register_module("group_norm", GroupNorm(o.norm_num_groups, o.query_dim, o.norm_eps, options));
  to_q = register_module("to_q", Linear(o.query_dim, inner, o.qkv_bias, options));
  to_k = register_module("to_k", Linear(kv_dim, inner, o.qkv_bias, options));
  to_v = register_module("to_v", Linear(kv_dim, inner, o.qkv_bias, options));
  to_out0 = Linear(inner, o.query_dim, true, options);
  to_out = register_module("to_out", torch::nn::ModuleList(to_out0));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x_in, const at::Tensor& context) {
  at::Tensor x = x_in;
  const bool spatial = x.dim() == 4;
  int64_t b = 0, c = 0, h = 0, w = 0;
  if (spatial) {
    b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    x = x.view({b, c, h * w}).transpose(1, 2);  // [B, HW, C]
  }
  at::Tensor residual = x;
  if (group_norm) x = group_norm->forward(x.transpose(1, 2)).transpose(1, 2);
  const at::Tensor& kv = context.defined() ? context : x;
  at::Tensor q = split_heads(to_q->forward(x), o_.heads);   // [B, h, L, d]
  at::Tensor k = split_heads(to_k->forward(kv), o_.heads);  // [B, h, Lk, d]
  at::Tensor v = split_heads(to_v->forward(kv), o_.heads);
  at::Tensor out = merge_heads(scaled_dot_product_attention(q, k, v, false, o_.upcast));  // [B, L, inner]
  out = to_out0->forward(out);
  if (o_.residual_connection) out = out + residual;
  if (spatial) out = out.transpose(1, 2).reshape({b, c, h, w});  // [B, C, H, W]
  return out;
}

}  // namespace sdw::nn
