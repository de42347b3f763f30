// diffusers' AutoencoderTiny (TAESD, madebyollin/taesd and taesdxl; v0.30): EncoderTiny /
// DecoderTiny as `encoder.layers.N` / `decoder.layers.N` (Sequential indices kept, ReLU and
// Upsample entries hold no weights), AutoencoderTinyBlock = relu(conv.4(relu(conv.2(relu(conv.0(x)))))
// + skip(x)). TAESD consumes and produces the diffusion-space latents directly (scaling_factor 1.0):
// encode(x) = encoder((x + 1) / 2), decode(z) = decoder(tanh(z / 3) * 3) * 2 - 1 (not clamped).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/nn/layers.h"

namespace sdw {

struct AutoencoderTinyConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t latent_channels = 4;
  std::vector<int64_t> encoder_block_out_channels{64, 64, 64, 64};
  std::vector<int64_t> decoder_block_out_channels{64, 64, 64, 64};
  std::vector<int64_t> num_encoder_blocks{1, 3, 3, 3};
  std::vector<int64_t> num_decoder_blocks{3, 3, 3, 1};
  int64_t upsampling_scaling_factor = 2;
  double latent_magnitude = 3.0;
  double latent_shift = 0.5;
  double scaling_factor = 1.0;

  // Throws std::invalid_argument for what this port does not run (act_fn other than relu,
  // upsample_fn other than nearest, mismatched list lengths).
  static AutoencoderTinyConfig from_json(const nlohmann::json& j);
  // Image pixels per latent pixel: 2^(levels-1) (diffusers' vae_scale_factor from block_out_channels).
  int64_t scale_factor() const { return int64_t(1) << (decoder_block_out_channels.size() - 1); }
};

class AutoencoderTinyBlockImpl : public torch::nn::Module {
 public:
  AutoencoderTinyBlockImpl(int64_t in_channels, int64_t out_channels, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [N, C, H, W] -> [N, C', H, W]
  torch::nn::ModuleList conv;               // 0, 2, 4: 3x3 convs (1, 3: ReLU, no weights)
  nn::Conv2d conv0_{nullptr}, conv2_{nullptr}, conv4_{nullptr};
  nn::Conv2d skip{nullptr};                 // bias-less 1x1 when the widths differ, else identity
};
TORCH_MODULE(AutoencoderTinyBlock);

// One entry of EncoderTiny / DecoderTiny's Sequential.
struct TinyLayer {
  enum Kind { conv, block, relu, upsample } kind = conv;
  nn::Conv2d conv_{nullptr};
  AutoencoderTinyBlock block_{nullptr};
};

class TinyStackImpl : public torch::nn::Module {
 public:
  TinyStackImpl();
  at::Tensor forward(const at::Tensor& x);
  void add_conv(int64_t in, int64_t out, int64_t stride, bool bias, const at::TensorOptions& options);
  void add_block(int64_t channels, const at::TensorOptions& options);
  void add_weightless(TinyLayer::Kind kind);
  torch::nn::ModuleList layers;
  std::vector<TinyLayer> layers_;
  int64_t upsample_factor_ = 2;
};
TORCH_MODULE(TinyStack);

class AutoencoderTinyImpl : public torch::nn::Module {
 public:
  AutoencoderTinyImpl(const AutoencoderTinyConfig& config, const at::TensorOptions& options);
  // image in [-1, 1] [N, 3, H, W] -> latents [N, 4, H/8, W/8] (diffusion space; no sampling)
  at::Tensor encode(const at::Tensor& image);
  // latents [N, 4, h, w] -> image [N, 3, 8h, 8w] in about [-1, 1] (not clamped)
  at::Tensor decode(const at::Tensor& latents);
  // diffusers' scale_latents / unscale_latents (TAESD's uint8 latent storage; forward() only).
  at::Tensor scale_latents(const at::Tensor& z) const;
  at::Tensor unscale_latents(const at::Tensor& q) const;
  // diffusers' forward(): encode, store as uint8, decode.
  at::Tensor forward(const at::Tensor& image);
  const AutoencoderTinyConfig& config() const { return config_; }

  TinyStack encoder{nullptr}, decoder{nullptr};

 private:
  AutoencoderTinyConfig config_;
};
TORCH_MODULE(AutoencoderTiny);

}  // namespace sdw
