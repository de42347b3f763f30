// UNet down/mid/up blocks (see unet_2d_blocks.h).
#include "model/nets/unet_2d_blocks.h"

namespace sdw {
namespace {

nn::ResnetOptions resnet_options(const UNetBlockOptions& o, int64_t in, int64_t out) {
  nn::ResnetOptions r;
  r.in_channels = in;
  r.out_channels = out;
  r.temb_channels = o.temb_channels;
  r.groups = o.groups;
  r.eps = o.eps;
  r.act = o.act;
  return r;
}

nn::Transformer2DOptions transformer_options(const UNetBlockOptions& o, int64_t channels) {
  nn::Transformer2DOptions t;
  t.heads = o.heads;
  t.dim_head = channels / o.heads;
  t.in_channels = channels;
  t.num_layers = o.transformer_layers;
  t.cross_attention_dim = o.cross_attention_dim;
  t.norm_num_groups = o.groups;
  t.use_linear_projection = o.use_linear_projection;
  t.upcast_attention = o.upcast_attention;
  t.only_cross_attention = o.only_cross_attention;
  return t;
}

}  // namespace

DownBlockImpl::DownBlockImpl(const UNetBlockOptions& o, const at::TensorOptions& options) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  if (o.cross_attention) attentions = register_module("attentions", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    resnets_.push_back(nn::ResnetBlock2D(resnet_options(o, i == 0 ? o.in_channels : o.out_channels, o.out_channels), options));
    resnets->push_back(resnets_.back());
    if (o.cross_attention) {
      attentions_.push_back(nn::Transformer2DModel(transformer_options(o, o.out_channels), options));
      attentions->push_back(attentions_.back());
    }
  }
  if (o.add_sample) {
    downsample_ = nn::Downsample2D(o.out_channels, o.downsample_padding, options);
    downsamplers = register_module("downsamplers", torch::nn::ModuleList(downsample_));
  }
}

at::Tensor DownBlockImpl::forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context,
                                  std::vector<at::Tensor>& skips) {
  at::Tensor h = x;
  for (size_t i = 0; i < resnets_.size(); ++i) {
    h = resnets_[i]->forward(h, temb);
    if (!attentions_.empty()) h = attentions_[i]->forward(h, context);
    skips.push_back(h);
  }
  if (downsample_) {
    h = downsample_->forward(h);  // [N, C, H/2, W/2]
    skips.push_back(h);
  }
  return h;
}

MidBlockCrossAttnImpl::MidBlockCrossAttnImpl(const UNetBlockOptions& o, const at::TensorOptions& options) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  attentions = register_module("attentions", torch::nn::ModuleList());
  resnets_.push_back(nn::ResnetBlock2D(resnet_options(o, o.in_channels, o.in_channels), options));
  resnets->push_back(resnets_.back());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    attentions_.push_back(nn::Transformer2DModel(transformer_options(o, o.in_channels), options));
    attentions->push_back(attentions_.back());
    resnets_.push_back(nn::ResnetBlock2D(resnet_options(o, o.in_channels, o.in_channels), options));
    resnets->push_back(resnets_.back());
  }
}

at::Tensor MidBlockCrossAttnImpl::forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context) {
  at::Tensor h = resnets_[0]->forward(x, temb);
  for (size_t i = 0; i < attentions_.size(); ++i) {
    h = attentions_[i]->forward(h, context);
    h = resnets_[i + 1]->forward(h, temb);
  }
  return h;
}

UpBlockImpl::UpBlockImpl(const UNetBlockOptions& o, const at::TensorOptions& options) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  if (o.cross_attention) attentions = register_module("attentions", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.num_layers; ++i) {
    const int64_t skip_channels = (i == o.num_layers - 1) ? o.in_channels : o.out_channels;
    const int64_t resnet_in = (i == 0) ? o.prev_output_channels : o.out_channels;
    resnets_.push_back(nn::ResnetBlock2D(resnet_options(o, resnet_in + skip_channels, o.out_channels), options));
    resnets->push_back(resnets_.back());
    if (o.cross_attention) {
      attentions_.push_back(nn::Transformer2DModel(transformer_options(o, o.out_channels), options));
      attentions->push_back(attentions_.back());
    }
  }
  if (o.add_sample) {
    upsample_ = nn::Upsample2D(o.out_channels, options);
    upsamplers = register_module("upsamplers", torch::nn::ModuleList(upsample_));
  }
}

at::Tensor UpBlockImpl::forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context,
                                std::vector<at::Tensor>& skips, at::IntArrayRef upsample_size) {
  at::Tensor h = x;
  for (size_t i = 0; i < resnets_.size(); ++i) {
    at::Tensor skip = skips.back();
    skips.pop_back();
    h = at::cat({h, skip}, 1);  // [N, C + Cskip, H, W]
    h = resnets_[i]->forward(h, temb);
    if (!attentions_.empty()) h = attentions_[i]->forward(h, context);
  }
  if (upsample_) h = upsample_->forward(h, upsample_size);
  return h;
}

}  // namespace sdw
