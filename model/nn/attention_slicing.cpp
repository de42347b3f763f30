// Attention slicing (see attention_slicing.h).
#include "model/nn/attention_slicing.h"

#include <algorithm>
#include <stdexcept>

#include "model/nn/attention.h"

namespace sdw::nn {

int64_t attention_slice_size(const std::string& value, int64_t heads) {
  check_attention_slicing(value);
  if (value.empty() || value == "none") return 0;
  if (value == "auto") return heads / 2;
  if (value == "max") return 1;
  const int64_t n = std::stoll(value);
  if (n > heads)
    throw std::invalid_argument("attention slice size " + value + " is larger than a layer's " + std::to_string(heads) +
                                " heads");
  return n;
}

void set_attention_slice(torch::nn::Module& root, const std::string& value) {
  for (const auto& m : root.modules(/*include_self=*/true)) {
    if (auto* a = dynamic_cast<AttentionImpl*>(m.get())) a->slice_size = attention_slice_size(value, a->o_.heads);
  }
}

at::Tensor sliced_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool upcast,
                            int64_t slice_size) {
  const int64_t b = q.size(0), h = q.size(1), lq = q.size(2), lk = k.size(2);
  // 1. (batch, head) pairs in one dimension, batch-major as diffusers' head_to_batch_dim
  at::Tensor qf = q.reshape({1, b * h, lq, q.size(3)});  // [1, B*h, Lq, d]
  at::Tensor kf = k.reshape({1, b * h, lk, k.size(3)});
  at::Tensor vf = v.reshape({1, b * h, lk, v.size(3)});
  at::Tensor out = at::empty({1, b * h, lq, v.size(3)}, q.options());  // [1, B*h, Lq, dv]
  // 2. slice_size pairs at a time (the last chunk shorter)
  for (int64_t start = 0; start < b * h; start += slice_size) {
    const int64_t end = std::min(start + slice_size, b * h);
    out.slice(1, start, end)
        .copy_(scaled_dot_product_attention(qf.slice(1, start, end), kf.slice(1, start, end), vf.slice(1, start, end),
                                            false, upcast));
  }
  return out.view({b, h, lq, v.size(3)});  // [B, h, Lq, dv]
}

}  // namespace sdw::nn
