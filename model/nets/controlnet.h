// diffusers' ControlNetModel (models/controlnets/controlnet.py): the UNet's encoder half (conv_in,
// time embedding, down blocks, mid block: the UNet's own block classes) plus
// controlnet_cond_embedding (the control image -> the conv_in resolution and channels) and one
// zero-initialised 1x1 convolution per skip connection (controlnet_down_blocks) and for the mid
// block (controlnet_mid_block). Configured from the folder's config.json with diffusers' names.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/nets/unet_2d_blocks.h"
#include "model/nets/unet_2d_condition.h"
#include "model/nn/embeddings.h"
#include "model/nn/layers.h"

namespace sdw {

struct ControlNetConfig {
  // The encoder half's fields, read with the UNet's parser (up blocks mirrored from the down blocks).
  UNet2DConditionConfig unet;
  int64_t conditioning_channels = 3;
  std::vector<int64_t> conditioning_embedding_out_channels{16, 32, 96, 256};
  bool global_pool_conditions = false;
  bool bgr = false;  // controlnet_conditioning_channel_order "bgr"

  // Throws std::invalid_argument naming an unsupported field.
  static ControlNetConfig from_json(const nlohmann::json& j);
  // How much controlnet_cond_embedding downsamples: 2^(len(conditioning_embedding_out_channels) - 1).
  int64_t cond_downscale() const { return int64_t{1} << (conditioning_embedding_out_channels.size() - 1); }
};

// ControlNetConditioningEmbedding: conv_in, (conv, stride-2 conv) per step in `blocks`, conv_out;
// SiLU after each but the last.
class ControlNetConditioningEmbeddingImpl : public torch::nn::Module {
 public:
  ControlNetConditioningEmbeddingImpl(int64_t embedding_channels, int64_t conditioning_channels,
                                      const std::vector<int64_t>& block_out_channels, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& cond);  // [B, 3, H, W] -> [B, C0, H/f, W/f]
  nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList blocks;
  std::vector<nn::Conv2d> blocks_;
};
TORCH_MODULE(ControlNetConditioningEmbedding);

class ControlNetModelImpl : public torch::nn::Module {
 public:
  ControlNetModelImpl(const ControlNetConfig& config, const at::TensorOptions& options);

  // diffusers' forward(sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale,
  // guess_mode): sample [B, 4, h, w], timesteps [B]/[1]/scalar, context [B, 77, D], cond [B, 3, H, W]
  // in [0, 1] (RGB) -> the residuals, each multiplied by `scale` (guess mode: by
  // logspace(-1, 0, n + 1) * scale, the mid block by the last).
  UNetControlResiduals forward(const at::Tensor& sample, const at::Tensor& timesteps, const at::Tensor& context,
                               const at::Tensor& cond, double scale, bool guess_mode = false,
                               const UNetAddedCond& added = {});

  const ControlNetConfig& config() const { return config_; }

  nn::Conv2d conv_in{nullptr};
  nn::TimestepEmbedding time_embedding{nullptr}, add_embedding{nullptr};
  ControlNetConditioningEmbedding controlnet_cond_embedding{nullptr};
  torch::nn::ModuleList down_blocks, controlnet_down_blocks;
  std::vector<DownBlock> down_;
  std::vector<nn::Conv2d> zero_convs_;
  MidBlockCrossAttn mid_block{nullptr};
  nn::Conv2d controlnet_mid_block{nullptr};

 private:
  ControlNetConfig config_;
};
TORCH_MODULE(ControlNetModel);

}  // namespace sdw
