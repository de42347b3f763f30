// Timestep embeddings (see embeddings.h). The float32 operation order follows diffusers so that
// the embedding is bit-identical to the reference.
#include "model/nn/embeddings.h"

#include <cmath>

namespace sdw::nn {

at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift,
                              double scale, double max_period) {
  const int64_t half = dim / 2;
  auto f32 = at::TensorOptions().dtype(at::kFloat).device(timesteps.device());
  at::Tensor exponent = at::arange(0, half, f32) * (-std::log(max_period));
  exponent = exponent / (static_cast<double>(half) - freq_shift);
  at::Tensor freqs = at::exp(exponent);                                    // [half]
  at::Tensor emb = timesteps.to(at::kFloat).unsqueeze(1) * freqs.unsqueeze(0);  // [N, half]
  if (scale != 1.0) emb = emb * scale;
  emb = at::cat({at::sin(emb), at::cos(emb)}, -1);  // [N, dim]
  if (flip_sin_to_cos) emb = at::cat({emb.slice(1, half), emb.slice(1, 0, half)}, -1);
  if (dim % 2 == 1) emb = at::constant_pad_nd(emb, {0, 1, 0, 0}, 0);
  return emb;
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim, const std::string& act,
                                             const at::TensorOptions& options)
    : act_(act) {
  linear_1 = register_module("linear_1", Linear(in_channels, time_embed_dim, true, options));
  linear_2 = register_module("linear_2", Linear(time_embed_dim, time_embed_dim, true, options));
}

at::Tensor TimestepEmbeddingImpl::forward(const at::Tensor& x) {
  return linear_2->forward(activation(act_, linear_1->forward(x)));
}

}  // namespace sdw::nn
