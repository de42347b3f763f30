// diffusers' ResnetBlock2D (default time-embedding norm), Downsample2D and Upsample2D.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "model/nn/layers.h"

namespace sdw::nn {

struct ResnetOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t temb_channels = 0;  // 0: no time embedding (VAE)
  int64_t groups = 32;
  double eps = 1e-6;
  std::string act = "silu";
  double output_scale_factor = 1.0;
};

class ResnetBlock2DImpl : public torch::nn::Module {
 public:
  ResnetBlock2DImpl(const ResnetOptions& o, const at::TensorOptions& options);
  // x: [N, Cin, H, W], temb: [N, temb_channels] or undefined -> [N, Cout, H, W]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb = {});

  ResnetOptions o_;
  GroupNorm norm1{nullptr}, norm2{nullptr};
  Conv2d conv1{nullptr}, conv2{nullptr}, conv_shortcut{nullptr};
  Linear time_emb_proj{nullptr};
};
TORCH_MODULE(ResnetBlock2D);

// 3x3 stride-2 conv. padding 0 means: pad right/bottom by one first (the VAE encoder's form).
class Downsample2DImpl : public torch::nn::Module {
 public:
  Downsample2DImpl(int64_t channels, int64_t padding, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [N, C, H, W] -> [N, C, H/2, W/2]
  Conv2d conv{nullptr};
  int64_t padding_;
};
TORCH_MODULE(Downsample2D);

// Nearest-neighbour upsampling (x2, or to `size`) followed by a 3x3 conv.
class Upsample2DImpl : public torch::nn::Module {
 public:
  Upsample2DImpl(int64_t channels, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, at::IntArrayRef size = {});  // -> [N, C, 2H, 2W] or size
  Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample2D);

}  // namespace sdw::nn
