// Timestep embeddings: diffusers' get_timestep_embedding (sinusoidal `Timesteps`) and
// `TimestepEmbedding` (linear_1 -> act -> linear_2).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "model/nn/layers.h"

namespace sdw::nn {

// timesteps: [N] (any numeric dtype) -> [N, dim] float32.
at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift,
                              double scale = 1.0, double max_period = 10000.0);

class TimestepEmbeddingImpl : public torch::nn::Module {
 public:
  TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim, const std::string& act,
                        const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [N, in] -> [N, time_embed_dim]
  Linear linear_1{nullptr}, linear_2{nullptr};
  std::string act_;
};
TORCH_MODULE(TimestepEmbedding);

}  // namespace sdw::nn
