// diffusers' UNet2DConditionModel for SD1.x (conv projections), SD2.x (linear projections,
// per-block heads, upcast attention), 9-channel inpainting UNets and SDXL (text_time embedding),
// configured from `unet/config.json` with the diffusers field names.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/nn/embeddings.h"
#include "model/nn/layers.h"
#include "model/nets/unet_2d_blocks.h"

namespace sdw {

struct UNet2DConditionConfig {
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  std::vector<std::string> down_block_types;
  std::vector<std::string> up_block_types;
  std::vector<int64_t> block_out_channels;
  std::vector<int64_t> layers_per_block;             // per down block
  std::vector<int64_t> transformer_layers_per_block;  // per down block
  std::vector<int64_t> num_attention_heads;           // per down block (diffusers' legacy attention_head_dim)
  std::vector<int64_t> cross_attention_dim;           // per down block
  int64_t downsample_padding = 1;
  double mid_block_scale_factor = 1.0;
  std::string act_fn = "silu";
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  bool flip_sin_to_cos = true;
  double freq_shift = 0;
  bool use_linear_projection = false;
  bool upcast_attention = false;
  bool only_cross_attention = false;
  int64_t sample_size = 64;
  // SDXL: addition_embed_type "text_time"
  std::string addition_embed_type;
  int64_t addition_time_embed_dim = 0;
  int64_t projection_class_embeddings_input_dim = 0;

  // Parses the diffusers config; unsupported features (class embeddings, fourier time embedding,
  // scale-shift norms, ...) are a std::invalid_argument naming the field.
  static UNet2DConditionConfig from_json(const nlohmann::json& j);
  int64_t time_embed_dim() const { return block_out_channels.at(0) * 4; }
};

// Extra conditioning for SDXL (added_cond_kwargs).
struct UNetAddedCond {
  at::Tensor text_embeds;  // [B, pooled_dim]
  at::Tensor time_ids;     // [B, 6]
};

// A ControlNet's output as the UNet takes it (diffusers' down_block_additional_residuals and
// mid_block_additional_residual): one tensor per skip connection, added to it before the up
// blocks read it, and one added to the mid block's output. Empty: no ControlNet.
struct UNetControlResiduals {
  std::vector<at::Tensor> down;  // [B, C_i, h_i, w_i], in the order the down blocks produce them
  at::Tensor mid;                // [B, C_last, h_last, w_last]
  bool empty() const { return down.empty() && !mid.defined(); }
};

// The block options the UNet builds its encoder half with (shared with ControlNetModel, which
// copies that half): the options every block shares, down block `i`'s, and the mid block's.
UNetBlockOptions unet_block_base(const UNet2DConditionConfig& c);
UNetBlockOptions unet_down_block_options(const UNet2DConditionConfig& c, int64_t i);
UNetBlockOptions unet_mid_block_options(const UNet2DConditionConfig& c);

// The time embedding (with SDXL's added text_time embedding when `add_embedding` is set) for a
// batch like `sample`: timesteps [B], [1] or scalar -> [B, 4*C0]. Shared with ControlNetModel.
at::Tensor unet_time_embedding(const UNet2DConditionConfig& c, nn::TimestepEmbedding& time_embedding,
                               nn::TimestepEmbedding& add_embedding, const at::Tensor& sample,
                               const at::Tensor& timesteps, const UNetAddedCond& added);

class UNet2DConditionModelImpl : public torch::nn::Module {
 public:
  UNet2DConditionModelImpl(const UNet2DConditionConfig& config, const at::TensorOptions& options);

  // sample: [B, in_channels, h, w]; timesteps: [B] or [1] or scalar (int or float);
  // context: [B, 77, cross_dim] -> [B, out_channels, h, w]. `control`: a ControlNet's residuals.
  at::Tensor forward(const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& context,
                     const UNetAddedCond& added = {}, const UNetControlResiduals& control = {});


  const UNet2DConditionConfig& config() const { return config_; }

  nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  nn::TimestepEmbedding time_embedding{nullptr}, add_embedding{nullptr};
  torch::nn::ModuleList down_blocks, up_blocks;
  std::vector<DownBlock> down_;
  std::vector<UpBlock> up_;
  MidBlockCrossAttn mid_block{nullptr};
  nn::GroupNorm conv_norm_out{nullptr};

 private:
  UNet2DConditionConfig config_;
};
TORCH_MODULE(UNet2DConditionModel);

}  // namespace sdw
