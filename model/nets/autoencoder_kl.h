// diffusers' AutoencoderKL (Encoder, Decoder, quant_conv, post_quant_conv) from `vae/config.json`.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <nlohmann/json.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/nn/attention.h"
#include "model/nn/layers.h"
#include "model/nn/resnet.h"

namespace sdw {

struct AutoencoderKLConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t latent_channels = 4;
  std::vector<int64_t> block_out_channels{128, 256, 512, 512};
  int64_t layers_per_block = 2;
  int64_t norm_num_groups = 32;
  std::string act_fn = "silu";
  double scaling_factor = 0.18215;
  std::optional<double> shift_factor;
  bool force_upcast = true;
  bool mid_block_add_attention = true;
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  int64_t sample_size = 512;

  static AutoencoderKLConfig from_json(const nlohmann::json& j);
  // Image pixels per latent pixel along one axis (2^(levels-1)).
  int64_t scale_factor() const { return int64_t(1) << (block_out_channels.size() - 1); }
};

// The dtype a VAE runs in for a model loaded in `dtype`: fp16 VAEs overflow into NaN/black images,
// so an fp16 model's VAE runs in fp32 when its config says force_upcast or `vae_fp32` is set (as
// diffusers upcasts for float16 only); bf16 has fp32's range and stays bf16; fp32 stays fp32.
at::ScalarType vae_dtype_for(at::ScalarType dtype, bool vae_fp32, bool force_upcast);

// UNetMidBlock2D of the VAE: resnet, attention (single head, group-normed, residual), resnet.
class VaeMidBlockImpl : public torch::nn::Module {
 public:
  VaeMidBlockImpl(int64_t channels, int64_t groups, const std::string& act, bool add_attention,
                  const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [N, C, H, W]
  torch::nn::ModuleList resnets, attentions;
  std::vector<nn::ResnetBlock2D> resnets_;
  std::vector<nn::Attention> attentions_;
};
TORCH_MODULE(VaeMidBlock);

// DownEncoderBlock2D / UpDecoderBlock2D: resnets, then an optional down/up sampler.
class VaeBlockImpl : public torch::nn::Module {
 public:
  VaeBlockImpl(int64_t num_layers, int64_t in_channels, int64_t out_channels, int64_t groups, const std::string& act,
               bool add_downsample, bool add_upsample, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::ModuleList resnets, downsamplers, upsamplers;
  std::vector<nn::ResnetBlock2D> resnets_;
  nn::Downsample2D down_{nullptr};
  nn::Upsample2D up_{nullptr};
};
TORCH_MODULE(VaeBlock);

class VaeEncoderImpl : public torch::nn::Module {
 public:
  VaeEncoderImpl(const AutoencoderKLConfig& c, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [N, 3, H, W] -> [N, 2*latent, H/f, W/f]
  nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList down_blocks;
  std::vector<VaeBlock> down_;
  VaeMidBlock mid_block{nullptr};
  nn::GroupNorm conv_norm_out{nullptr};
  std::string act_;
};
TORCH_MODULE(VaeEncoder);

class VaeDecoderImpl : public torch::nn::Module {
 public:
  VaeDecoderImpl(const AutoencoderKLConfig& c, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& z);  // [N, latent, h, w] -> [N, 3, h*f, w*f]
  nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList up_blocks;
  std::vector<VaeBlock> up_;
  VaeMidBlock mid_block{nullptr};
  nn::GroupNorm conv_norm_out{nullptr};
  std::string act_;
};
TORCH_MODULE(VaeDecoder);

// The diagonal Gaussian posterior of an encoded image.
struct LatentDistribution {
  at::Tensor mean;    // [N, latent, h, w]
  at::Tensor logvar;  // clamped to [-30, 20]
  at::Tensor std;     // exp(0.5 * logvar)
  // mean + std * eps (eps drawn by the caller, so the draw order stays the pipeline's).
  at::Tensor sample(const at::Tensor& eps) const { return mean + std * eps; }
  // diffusers' DiagonalGaussianDistribution(moments): [N, 2*latent, h, w] = mean, then logvar.
  static LatentDistribution from_moments(const at::Tensor& moments);
};

struct VaeTiling;  // model/nets/vae_tiling.h

class AutoencoderKLImpl : public torch::nn::Module {
 public:
  AutoencoderKLImpl(const AutoencoderKLConfig& config, const at::TensorOptions& options);
  // image in [-1, 1]: [N, 3, H, W]
  LatentDistribution encode(const at::Tensor& image);
  // latents already divided by the scaling factor: [N, latent, h, w] -> image [N, 3, H, W] (not clamped)
  at::Tensor decode(const at::Tensor& latents);
  const AutoencoderKLConfig& config() const { return config_; }

  // diffusers' enable_tiling() / disable_tiling(): with tiling, decode() and encode() run inputs
  // larger than one tile through tiled_decode / tiled_encode (vae_tiling.h). `tile_when`, when
  // set, decides per call whether tiling applies (input, true for a decode); unset: always.
  void enable_tiling(const VaeTiling& tiling);
  void disable_tiling();
  const VaeTiling* tiling() const { return tiling_.get(); }
  std::function<bool(const at::Tensor& input, bool decoding)> tile_when;

  VaeEncoder encoder{nullptr};
  VaeDecoder decoder{nullptr};
  nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};

 private:
  AutoencoderKLConfig config_;
  std::shared_ptr<const VaeTiling> tiling_;
  // The plain passes (no tiling).
  LatentDistribution encode_plain(const at::Tensor& image);
  at::Tensor decode_plain(const at::Tensor& latents);
  friend at::Tensor decode_maybe_tiled(AutoencoderKLImpl&, const at::Tensor&, const VaeTiling*);
  friend LatentDistribution encode_maybe_tiled(AutoencoderKLImpl&, const at::Tensor&, const VaeTiling*);
};
TORCH_MODULE(AutoencoderKL);

}  // namespace sdw
