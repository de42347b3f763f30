// ResnetBlock2D, Downsample2D, Upsample2D (see resnet.h).
#include "model/nn/resnet.h"

#include "model/nn/group_norm_silu.h"

namespace sdw::nn {

ResnetBlock2DImpl::ResnetBlock2DImpl(const ResnetOptions& o, const at::TensorOptions& options) : o_(o) {
  norm1 = register_module("norm1", GroupNorm(o.groups, o.in_channels, o.eps, options));
  conv1 = register_module("conv1", Conv2d(o.in_channels, o.out_channels, 3, 1, 1, true, options));
  if (o.temb_channels > 0)
    time_emb_proj = register_module("time_emb_proj", Linear(o.temb_channels, o.out_channels, true, options));
  norm2 = register_module("norm2", GroupNorm(o.groups, o.out_channels, o.eps, options));
  conv2 = register_module("conv2", Conv2d(o.out_channels, o.out_channels, 3, 1, 1, true, options));
  if (o.in_channels != o.out_channels)
    conv_shortcut = register_module("conv_shortcut", Conv2d(o.in_channels, o.out_channels, 1, 1, 0, true, options));
}

at::Tensor ResnetBlock2DImpl::forward(const at::Tensor& x, const at::Tensor& temb) {
  // Element-wise steps run in place on buffers this block just made (same values, less memory traffic).
  at::Tensor h = norm_activation(norm1, o_.act, x);
  h = conv1->forward(h);  // [N, Cout, H, W]
  if (time_emb_proj && temb.defined()) {
    at::Tensor t = time_emb_proj->forward(activation(o_.act, temb));  // [N, Cout]
    h.add_(t.unsqueeze(-1).unsqueeze(-1));
  }
  h = norm_activation_(norm2, o_.act, h);  // h: conv1's fresh output
  h = conv2->forward(h);
  at::Tensor out = h.add_(conv_shortcut ? conv_shortcut->forward(x) : x);  // shortcut + h
  if (o_.output_scale_factor != 1.0) out.div_(o_.output_scale_factor);
  return out;
}

Downsample2DImpl::Downsample2DImpl(int64_t channels, int64_t padding, const at::TensorOptions& options)
    : padding_(padding) {
  conv = register_module("conv", Conv2d(channels, channels, 3, 2, padding, true, options));
}

at::Tensor Downsample2DImpl::forward(const at::Tensor& x) {
  if (padding_ == 0) return conv->forward(at::constant_pad_nd(x, {0, 1, 0, 1}, 0));
  return conv->forward(x);
}

Upsample2DImpl::Upsample2DImpl(int64_t channels, const at::TensorOptions& options) {
  conv = register_module("conv", Conv2d(channels, channels, 3, 1, 1, true, options));
}

at::Tensor Upsample2DImpl::forward(const at::Tensor& x, at::IntArrayRef size) {
  at::Tensor h = x;
  const auto dtype = h.scalar_type();
  if (dtype == at::kBFloat16) h = h.to(at::kFloat);  // nearest upsampling lacks bf16 kernels on some builds
  if (size.empty()) {
    h = at::upsample_nearest2d(h, {h.size(2) * 2, h.size(3) * 2});
  } else {
    h = at::upsample_nearest2d(h, {size[0], size[1]});
  }
  if (dtype == at::kBFloat16) h = h.to(dtype);
  return conv->forward(h);
}

}  // namespace sdw::nn
