// Attention (see attention.h).
#include "model/nn/attention.h"

#include <torch/version.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/nn/attention_slicing.h"
#include "model/nn/cpu_attention.h"
#include "model/nn/fused_qkv.h"

namespace sdw::nn {
namespace {

// fp32 CPU attention one (batch, head) at a time through oneDNN (see layers.h): the [Lq, Lk]
// scores of one head stay in cache for the scale, the softmax and the product with v, and no
// [B, h, Lq, Lk] buffer is made. Same operations and order as the generic path below.
// Returns [B, h, Lq, d] as a view of a [B, Lq, h, d] buffer, so merge_heads is free.
at::Tensor onednn_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal, double scale) {
  const int64_t b = q.size(0), heads = q.size(1), lq = q.size(2), lk = k.size(2);
  at::Tensor out = at::empty({b, lq, heads, v.size(3)}, q.options());  // [B, Lq, h, dv]
  at::Tensor probs = at::empty({lq, lk}, q.options());
  at::Tensor mask;
  if (causal) mask = at::ones({lq, lk}, q.options().dtype(at::kBool)).triu(1);
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t h = 0; h < heads; ++h) {
      at::Tensor scores = onednn_mm(q[i][h].contiguous(), k[i][h].contiguous());  // [Lq, Lk]
      scores.mul_(scale);
      if (causal) scores.masked_fill_(mask, -std::numeric_limits<float>::infinity());
      at::_softmax_out(probs, scores, -1, false);
      out.select(0, i).select(1, h).copy_(onednn_mm(probs, v[i][h].t().contiguous()));  // [Lq, dv]
    }
  }
  return out.transpose(1, 2);  // [B, h, Lq, dv]
}

}  // namespace

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                        bool upcast) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
#if TORCH_VERSION_MAJOR >= 2
  if (!upcast || q.scalar_type() == at::kFloat) {
    return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, causal);
  }
#endif
  // Per-head products of at least 2^18 multiply-adds (smaller ones: the loop costs more than it saves).
  if (q.dim() == 4 && q.size(2) * k.size(2) * q.size(3) >= (int64_t{1} << 18) && use_cpu_onednn(q) &&
      use_cpu_onednn(k) && use_cpu_onednn(v)) {
    if (cpu_blocked_attention_enabled()) return cpu_blocked_attention(q, k, v, causal, scale);  // [B, h, Lq, d]
    return onednn_attention(q, k, v, causal, scale);
  }
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

int64_t attention_work_bytes(const at::Device& device, at::ScalarType dtype, int64_t b, int64_t heads, int64_t lq,
                             int64_t lk, int64_t d, bool upcast, int64_t slice_size) {
  const int64_t threads = std::max(1, at::get_num_threads());
#if TORCH_VERSION_MAJOR >= 2
  // Flash / memory-efficient kernels: a block of scores per thread (CPU) or per thread block
  // (CUDA), and the rows' log-sum-exp.
  if (!upcast || dtype == at::kFloat) return b * heads * lq * 4 + threads * kAttentionBlockFloats * 4;
#endif
  if (device.is_cpu() && dtype == at::kFloat && lq * lk * d >= (int64_t{1} << 18) && cpu_onednn_enabled() &&
      at::globalContext().userEnabledMkldnn()) {
    if (cpu_blocked_attention_enabled())  // each thread's block of scores and one head's k^T
      return threads * (std::min(lq, std::max<int64_t>(16, kAttentionBlockFloats / std::max<int64_t>(lk, 1))) * lk + d * lk) * 4;
    return 2 * lq * lk * 4;  // one head's scores and probabilities
  }
  const int64_t pairs = slice_size > 0 ? std::min(slice_size, b * heads) : b * heads;
  const int64_t score_elem = upcast ? 4 : static_cast<int64_t>(c10::elementSize(dtype));
  return 2 * pairs * lq * lk * score_elem;  // the scores and their softmax
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
  if (spatial) x = x.contiguous();  // one copy for the three projections instead of one each
  const at::Tensor& kv = context.defined() ? context : x;
  at::Tensor q, k, v;
  if (!context.defined() && qkv_fused_now(*this)) {
    auto qkv = fused_qkv_forward(*this, x);  // 3 x [B, L, inner]: one product (fused_qkv.h)
    q = split_heads(qkv[0], o_.heads), k = split_heads(qkv[1], o_.heads), v = split_heads(qkv[2], o_.heads);
  } else {
    q = split_heads(to_q->forward(x), o_.heads);   // [B, h, L, d]
    k = split_heads(to_k->forward(kv), o_.heads);  // [B, h, Lk, d]
    v = split_heads(to_v->forward(kv), o_.heads);
  }
  at::Tensor attn = slice_size > 0 ? sliced_attention(q, k, v, o_.upcast, slice_size)
                                   : scaled_dot_product_attention(q, k, v, false, o_.upcast);  // [B, h, L, d]
  at::Tensor out = merge_heads(attn);  // [B, L, inner]
  out = to_out0->forward(out);
  if (o_.residual_connection) out.add_(residual);  // out is a fresh buffer
  if (spatial) out = out.transpose(1, 2).reshape({b, c, h, w});  // [B, C, H, W]
  return out;
}

}  // namespace sdw::nn
