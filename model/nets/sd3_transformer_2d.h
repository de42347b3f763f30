// diffusers' SD3Transformer2DModel (transformers/transformer_sd3.py, v0.30.3), the MMDiT of Stable
// Diffusion 3: PatchEmbed with a cropped 2-D sin-cos position embedding, timestep + pooled text
// conditioning, JointTransformerBlocks (joint_blocks.h), AdaLayerNormContinuous, unpatchify.
// Configured from `transformer/config.json`; children carry diffusers' names.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "model/nets/joint_blocks.h"
#include "model/nn/embeddings.h"
#include "model/nn/layers.h"

namespace sdw {

struct SD3Transformer2DConfig {
  int64_t sample_size = 128;
  int64_t patch_size = 2;
  int64_t in_channels = 16;
  int64_t num_layers = 18;
  int64_t attention_head_dim = 64;
  int64_t num_attention_heads = 18;
  int64_t joint_attention_dim = 4096;
  int64_t caption_projection_dim = 1152;
  int64_t pooled_projection_dim = 2048;
  int64_t out_channels = 16;
  int64_t pos_embed_max_size = 96;

  static SD3Transformer2DConfig from_json(const nlohmann::json& j);
  int64_t inner_dim() const { return num_attention_heads * attention_head_dim; }
};

// PatchEmbed with pos_embed_max_size: Conv2d patchify, row-major tokens, plus the stored
// [1, M*M, D] sin-cos table cropped to the centre (top = (M - h) // 2, left = (M - w) // 2).
class SD3PatchEmbedImpl : public torch::nn::Module {
 public:
  SD3PatchEmbedImpl(const SD3Transformer2DConfig& c, const at::TensorOptions& options);
  at::Tensor cropped_pos_embed(int64_t height, int64_t width);  // in latent pixels -> [1, h*w, D]
  at::Tensor forward(const at::Tensor& latent);                  // [N, C, H, W] -> [N, H/p * W/p, D]
  nn::Conv2d proj{nullptr};
  at::Tensor pos_embed;  // [1, M*M, D], a persistent buffer (in the weights file)
  int64_t patch_size_, max_size_;
};
TORCH_MODULE(SD3PatchEmbed);

// CombinedTimestepTextProjEmbeddings: TimestepEmbedding(sincos_256(t)) + PixArtAlphaTextProjection(pooled).
class CombinedTimestepTextProjEmbeddingsImpl : public torch::nn::Module {
 public:
  CombinedTimestepTextProjEmbeddingsImpl(int64_t dim, int64_t pooled_dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& timestep, const at::Tensor& pooled);  // [N], [N, P] -> [N, D]
  nn::TimestepEmbedding timestep_embedder{nullptr};
  std::shared_ptr<torch::nn::Module> text_embedder;
  nn::Linear text_linear_1{nullptr}, text_linear_2{nullptr};
};
TORCH_MODULE(CombinedTimestepTextProjEmbeddings);

// Intermediates of one forward pass (tests compare them with diffusers' hooks).
struct SD3TransformerTrace {
  at::Tensor patch_embed_out, temb, context_embedder_out, norm_out, proj_out;
  std::vector<at::Tensor> block_hidden_out, block_context_out;
};

class SD3Transformer2DModelImpl : public torch::nn::Module {
 public:
  SD3Transformer2DModelImpl(const SD3Transformer2DConfig& config, const at::TensorOptions& options);
  // hidden_states [N, C, H, W] (H, W multiples of patch_size), encoder_hidden_states [N, T,
  // joint_attention_dim], pooled_projections [N, pooled_projection_dim], timestep [N] float
  // (sigma * 1000, not rounded) -> [N, out_channels, H, W].
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& encoder_hidden_states,
                     const at::Tensor& pooled_projections, const at::Tensor& timestep,
                     SD3TransformerTrace* trace = nullptr);
  const SD3Transformer2DConfig& config() const { return config_; }

  SD3PatchEmbed pos_embed{nullptr};
  CombinedTimestepTextProjEmbeddings time_text_embed{nullptr};
  nn::Linear context_embedder{nullptr};
  torch::nn::ModuleList transformer_blocks;
  std::vector<JointTransformerBlock> blocks_;
  AdaLayerNormContinuous norm_out{nullptr};
  nn::Linear proj_out{nullptr};

 private:
  SD3Transformer2DConfig config_;
};
TORCH_MODULE(SD3Transformer2DModel);

}  // namespace sdw
