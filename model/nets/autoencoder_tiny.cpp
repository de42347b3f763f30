// AutoencoderTiny (see autoencoder_tiny.h): diffusers' EncoderTiny, DecoderTiny and
// AutoencoderTinyBlock layer for layer, so the Sequential indices name the weights.
#include "model/nets/autoencoder_tiny.h"

#include <torch/nn/modules/activation.h>

#include <stdexcept>

#include "model/nets/config_json.h"

namespace sdw {

AutoencoderTinyConfig AutoencoderTinyConfig::from_json(const nlohmann::json& j) {
  AutoencoderTinyConfig c;
  c.in_channels = get_or<int64_t>(j, "in_channels", 3);
  c.out_channels = get_or<int64_t>(j, "out_channels", 3);
  c.latent_channels = get_or<int64_t>(j, "latent_channels", 4);
  c.encoder_block_out_channels = get_or<std::vector<int64_t>>(j, "encoder_block_out_channels", {64, 64, 64, 64});
  c.decoder_block_out_channels = get_or<std::vector<int64_t>>(j, "decoder_block_out_channels", {64, 64, 64, 64});
  c.num_encoder_blocks = get_or<std::vector<int64_t>>(j, "num_encoder_blocks", {1, 3, 3, 3});
  c.num_decoder_blocks = get_or<std::vector<int64_t>>(j, "num_decoder_blocks", {3, 3, 3, 1});
  c.upsampling_scaling_factor = get_or<int64_t>(j, "upsampling_scaling_factor", 2);
  c.latent_magnitude = get_or<double>(j, "latent_magnitude", 3.0);
  c.latent_shift = get_or<double>(j, "latent_shift", 0.5);
  c.scaling_factor = get_or<double>(j, "scaling_factor", 1.0);
  const std::string act = get_or<std::string>(j, "act_fn", "relu");
  const std::string up = get_or<std::string>(j, "upsample_fn", "nearest");
  if (act != "relu") throw std::invalid_argument("AutoencoderTiny config: act_fn '" + act + "' is not supported (relu)");
  if (up != "nearest") throw std::invalid_argument("AutoencoderTiny config: upsample_fn '" + up + "' is not supported (nearest)");
  if (c.encoder_block_out_channels.size() != c.num_encoder_blocks.size() ||
      c.decoder_block_out_channels.size() != c.num_decoder_blocks.size() || c.num_decoder_blocks.empty() ||
      c.num_encoder_blocks.empty())
    throw std::invalid_argument("AutoencoderTiny config: block_out_channels and num_blocks differ in length");
  return c;
}

AutoencoderTinyBlockImpl::AutoencoderTinyBlockImpl(int64_t in, int64_t out, const at::TensorOptions& options) {
  conv0_ = nn::Conv2d(in, out, 3, 1, 1, true, options);
  conv2_ = nn::Conv2d(out, out, 3, 1, 1, true, options);
  conv4_ = nn::Conv2d(out, out, 3, 1, 1, true, options);
  conv = register_module("conv", torch::nn::ModuleList(conv0_, torch::nn::ReLU(), conv2_, torch::nn::ReLU(), conv4_));
  if (in != out) skip = register_module("skip", nn::Conv2d(in, out, 1, 1, 0, false, options));
}

at::Tensor AutoencoderTinyBlockImpl::forward(const at::Tensor& x) {
  at::Tensor h = conv4_->forward(at::relu(conv2_->forward(at::relu(conv0_->forward(x)))));  // [N, C', H, W]
  return at::relu(h + (skip ? skip->forward(x) : x));
}

TinyStackImpl::TinyStackImpl() { layers = register_module("layers", torch::nn::ModuleList()); }

void TinyStackImpl::add_conv(int64_t in, int64_t out, int64_t stride, bool bias, const at::TensorOptions& options) {
  TinyLayer l;
  l.kind = TinyLayer::conv;
  l.conv_ = nn::Conv2d(in, out, 3, stride, 1, bias, options);
  layers->push_back(l.conv_);
  layers_.push_back(l);
}

void TinyStackImpl::add_block(int64_t channels, const at::TensorOptions& options) {
  TinyLayer l;
  l.kind = TinyLayer::block;
  l.block_ = AutoencoderTinyBlock(channels, channels, options);
  layers->push_back(l.block_);
  layers_.push_back(l);
}

void TinyStackImpl::add_weightless(TinyLayer::Kind kind) {
  TinyLayer l;
  l.kind = kind;
  layers->push_back(torch::nn::ReLU());  // a placeholder keeping the Sequential's numbering
  layers_.push_back(l);
}

at::Tensor TinyStackImpl::forward(const at::Tensor& x) {
  at::Tensor h = x;
  for (auto& l : layers_) {
    switch (l.kind) {
      case TinyLayer::conv: h = l.conv_->forward(h); break;
      case TinyLayer::block: h = l.block_->forward(h); break;
      case TinyLayer::relu: h = at::relu(h); break;
      case TinyLayer::upsample:
        h = at::upsample_nearest2d(h, {h.size(2) * upsample_factor_, h.size(3) * upsample_factor_});  // [N, C, 2H, 2W]
        break;
    }
  }
  return h;
}

AutoencoderTinyImpl::AutoencoderTinyImpl(const AutoencoderTinyConfig& c, const at::TensorOptions& options)
    : config_(c) {
  // EncoderTiny: conv_in, then per level a stride-2 bias-less conv (not the first) and its blocks, conv_out.
  encoder = register_module("encoder", TinyStack());
  const auto& ec = c.encoder_block_out_channels;
  for (size_t i = 0; i < ec.size(); ++i) {
    if (i == 0)
      encoder->add_conv(c.in_channels, ec[0], 1, true, options);
    else
      encoder->add_conv(ec[i], ec[i], 2, false, options);
    for (int64_t b = 0; b < c.num_encoder_blocks[i]; ++b) encoder->add_block(ec[i], options);
  }
  encoder->add_conv(ec.back(), c.latent_channels, 1, true, options);
  // DecoderTiny: conv_in + ReLU, then per level its blocks, an up-sampler (not the last) and a conv
  // (bias-less except the final one, which gives the image).
  decoder = register_module("decoder", TinyStack());
  decoder->upsample_factor_ = c.upsampling_scaling_factor;
  const auto& dc = c.decoder_block_out_channels;
  decoder->add_conv(c.latent_channels, dc[0], 1, true, options);
  decoder->add_weightless(TinyLayer::relu);
  for (size_t i = 0; i < dc.size(); ++i) {
    const bool last = i + 1 == dc.size();
    for (int64_t b = 0; b < c.num_decoder_blocks[i]; ++b) decoder->add_block(dc[i], options);
    if (!last) decoder->add_weightless(TinyLayer::upsample);
    decoder->add_conv(dc[i], last ? c.out_channels : dc[i], 1, last, options);
  }
}

at::Tensor AutoencoderTinyImpl::encode(const at::Tensor& image) {
  return encoder->forward(image.add(1).div(2));  // [N, latent, H/8, W/8]
}

at::Tensor AutoencoderTinyImpl::decode(const at::Tensor& latents) {
  at::Tensor z = at::tanh(latents / 3) * 3;  // soft clamp to (-3, 3)
  return decoder->forward(z).mul(2).sub(1);  // [N, 3, 8h, 8w]
}

at::Tensor AutoencoderTinyImpl::scale_latents(const at::Tensor& z) const {
  return z.div(2 * config_.latent_magnitude).add(config_.latent_shift).clamp(0, 1);
}

at::Tensor AutoencoderTinyImpl::unscale_latents(const at::Tensor& q) const {
  return q.sub(config_.latent_shift).mul(2 * config_.latent_magnitude);
}

at::Tensor AutoencoderTinyImpl::forward(const at::Tensor& image) {
  at::Tensor q = scale_latents(encode(image)).mul_(255).round_().to(at::kByte);  // uint8 storage
  return decode(unscale_latents(q.to(image.scalar_type()) / 255.0));
}

}  // namespace sdw
