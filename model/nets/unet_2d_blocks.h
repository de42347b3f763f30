// The UNet's down, mid and up blocks (diffusers unet_2d_blocks.py): CrossAttnDownBlock2D,
// DownBlock2D, UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D, UpBlock2D. One class per kind of
// block with an `attentions` list that is empty for the plain blocks.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <vector>

#include "model/nn/resnet.h"
#include "model/nn/transformer_2d.h"

namespace sdw {

struct UNetBlockOptions {
  int64_t num_layers = 2;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t prev_output_channels = 0;  // up blocks
  int64_t temb_channels = 0;
  bool add_sample = true;  // add_downsample / add_upsample
  bool cross_attention = true;
  int64_t transformer_layers = 1;
  int64_t heads = 8;
  int64_t cross_attention_dim = 768;
  int64_t groups = 32;
  double eps = 1e-5;
  std::string act = "silu";
  int64_t downsample_padding = 1;
  bool use_linear_projection = false;
  bool upcast_attention = false;
  bool only_cross_attention = false;
};

// CrossAttnDownBlock2D (cross_attention) or DownBlock2D.
class DownBlockImpl : public torch::nn::Module {
 public:
  DownBlockImpl(const UNetBlockOptions& o, const at::TensorOptions& options);
  // Appends every intermediate output to `skips` (the UNet's res samples).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context,
                     std::vector<at::Tensor>& skips);
  torch::nn::ModuleList resnets, attentions, downsamplers;
  std::vector<nn::ResnetBlock2D> resnets_;
  std::vector<nn::Transformer2DModel> attentions_;
  nn::Downsample2D downsample_{nullptr};
};
TORCH_MODULE(DownBlock);

// UNetMidBlock2DCrossAttn: resnet, then (attention, resnet) x transformer count.
class MidBlockCrossAttnImpl : public torch::nn::Module {
 public:
  MidBlockCrossAttnImpl(const UNetBlockOptions& o, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context);
  torch::nn::ModuleList resnets, attentions;
  std::vector<nn::ResnetBlock2D> resnets_;
  std::vector<nn::Transformer2DModel> attentions_;
};
TORCH_MODULE(MidBlockCrossAttn);

// CrossAttnUpBlock2D (cross_attention) or UpBlock2D. Consumes num_layers skips from the back.
class UpBlockImpl : public torch::nn::Module {
 public:
  UpBlockImpl(const UNetBlockOptions& o, const at::TensorOptions& options);
  // `upsample_size`: spatial size of the next skip (empty for the last block).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context,
                     std::vector<at::Tensor>& skips, at::IntArrayRef upsample_size);
  torch::nn::ModuleList resnets, attentions, upsamplers;
  std::vector<nn::ResnetBlock2D> resnets_;
  std::vector<nn::Transformer2DModel> attentions_;
  nn::Upsample2D upsample_{nullptr};
};
TORCH_MODULE(UpBlock);

}  // namespace sdw
