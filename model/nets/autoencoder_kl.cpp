// AutoencoderKL (see autoencoder_kl.h). The VAE uses GroupNorm eps 1e-6 everywhere.
#include "model/nets/autoencoder_kl.h"

#include <stdexcept>

#include "model/nets/config_json.h"
#include "model/nets/vae_tiling.h"
#include "model/nn/group_norm_silu.h"

namespace sdw {
namespace {

constexpr double kVaeEps = 1e-6;

nn::ResnetOptions vae_resnet(int64_t in, int64_t out, int64_t groups, const std::string& act) {
  nn::ResnetOptions r;
  r.in_channels = in;
  r.out_channels = out;
  r.temb_channels = 0;
  r.groups = groups;
  r.eps = kVaeEps;
  r.act = act;
  return r;
}

}  // namespace

AutoencoderKLConfig AutoencoderKLConfig::from_json(const nlohmann::json& j) {
  AutoencoderKLConfig c;
  c.in_channels = get_or<int64_t>(j, "in_channels", 3);
  c.out_channels = get_or<int64_t>(j, "out_channels", 3);
  c.latent_channels = get_or<int64_t>(j, "latent_channels", 4);
  c.block_out_channels = get_or<std::vector<int64_t>>(j, "block_out_channels", {64});
  c.layers_per_block = get_or<int64_t>(j, "layers_per_block", 1);
  c.norm_num_groups = get_or<int64_t>(j, "norm_num_groups", 32);
  c.act_fn = get_or<std::string>(j, "act_fn", "silu");
  c.scaling_factor = get_or<double>(j, "scaling_factor", 0.18215);
  if (j.contains("shift_factor") && !j["shift_factor"].is_null()) c.shift_factor = j["shift_factor"].get<double>();
  c.force_upcast = get_or<bool>(j, "force_upcast", true);
  c.mid_block_add_attention = get_or<bool>(j, "mid_block_add_attention", true);
  c.use_quant_conv = get_or<bool>(j, "use_quant_conv", true);
  c.use_post_quant_conv = get_or<bool>(j, "use_post_quant_conv", true);
  c.sample_size = get_or<int64_t>(j, "sample_size", 512);
  const auto down = get_or<std::vector<std::string>>(j, "down_block_types", {"DownEncoderBlock2D"});
  const auto up = get_or<std::vector<std::string>>(j, "up_block_types", {"UpDecoderBlock2D"});
  if (down.size() != c.block_out_channels.size() || up.size() != c.block_out_channels.size())
    throw std::invalid_argument("vae config: block types and block_out_channels differ in length");
  for (const auto& t : down)
    if (t != "DownEncoderBlock2D") throw std::invalid_argument("vae config: unsupported down block '" + t + "'");
  for (const auto& t : up)
    if (t != "UpDecoderBlock2D") throw std::invalid_argument("vae config: unsupported up block '" + t + "'");
  return c;
}

VaeMidBlockImpl::VaeMidBlockImpl(int64_t channels, int64_t groups, const std::string& act, bool add_attention,
                                 const at::TensorOptions& options) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  resnets_.push_back(nn::ResnetBlock2D(vae_resnet(channels, channels, groups, act), options));
  resnets->push_back(resnets_.back());
  if (add_attention) {
    attentions = register_module("attentions", torch::nn::ModuleList());
    nn::AttentionOptions a;
    a.query_dim = channels;
    a.heads = 1;
    a.dim_head = channels;
    a.qkv_bias = true;
    a.upcast = true;  // upcast_softmax
    a.norm_num_groups = groups;
    a.norm_eps = kVaeEps;
    a.residual_connection = true;
    attentions_.push_back(nn::Attention(a, options));
    attentions->push_back(attentions_.back());
  }
  resnets_.push_back(nn::ResnetBlock2D(vae_resnet(channels, channels, groups, act), options));
  resnets->push_back(resnets_.back());
}

at::Tensor VaeMidBlockImpl::forward(const at::Tensor& x) {
  at::Tensor h = resnets_[0]->forward(x);
  if (!attentions_.empty()) h = attentions_[0]->forward(h);
  return resnets_[1]->forward(h);
}

VaeBlockImpl::VaeBlockImpl(int64_t num_layers, int64_t in_channels, int64_t out_channels, int64_t groups,
                           const std::string& act, bool add_downsample, bool add_upsample,
                           const at::TensorOptions& options) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_layers; ++i) {
    resnets_.push_back(nn::ResnetBlock2D(vae_resnet(i == 0 ? in_channels : out_channels, out_channels, groups, act), options));
    resnets->push_back(resnets_.back());
  }
  if (add_downsample) {
    down_ = nn::Downsample2D(out_channels, 0, options);
    downsamplers = register_module("downsamplers", torch::nn::ModuleList(down_));
  }
  if (add_upsample) {
    up_ = nn::Upsample2D(out_channels, options);
    upsamplers = register_module("upsamplers", torch::nn::ModuleList(up_));
  }
}

at::Tensor VaeBlockImpl::forward(const at::Tensor& x) {
  at::Tensor h = x;
  for (auto& r : resnets_) h = r->forward(h);
  if (down_) h = down_->forward(h);
  if (up_) h = up_->forward(h);
  return h;
}

VaeEncoderImpl::VaeEncoderImpl(const AutoencoderKLConfig& c, const at::TensorOptions& options) : act_(c.act_fn) {
  const auto& ch = c.block_out_channels;
  const size_t n = ch.size();
  conv_in = register_module("conv_in", nn::Conv2d(c.in_channels, ch[0], 3, 1, 1, true, options));
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  int64_t out = ch[0];
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = out;
    out = ch[i];
    down_.push_back(VaeBlock(c.layers_per_block, in, out, c.norm_num_groups, c.act_fn, i + 1 != n, false, options));
    down_blocks->push_back(down_.back());
  }
  mid_block = register_module("mid_block", VaeMidBlock(ch[n - 1], c.norm_num_groups, c.act_fn, c.mid_block_add_attention, options));
  conv_norm_out = register_module("conv_norm_out", nn::GroupNorm(c.norm_num_groups, ch[n - 1], kVaeEps, options));
  conv_out = register_module("conv_out", nn::Conv2d(ch[n - 1], 2 * c.latent_channels, 3, 1, 1, true, options));
}

at::Tensor VaeEncoderImpl::forward(const at::Tensor& x) {
  at::Tensor h = conv_in->forward(x);
  for (auto& b : down_) h = b->forward(h);
  h = mid_block->forward(h);
  h = nn::norm_activation_(conv_norm_out, act_, h);  // the last block's output, dead after
  return conv_out->forward(h);  // [N, 2*latent, H/f, W/f]
}

VaeDecoderImpl::VaeDecoderImpl(const AutoencoderKLConfig& c, const at::TensorOptions& options) : act_(c.act_fn) {
  const auto& ch = c.block_out_channels;
  const size_t n = ch.size();
  conv_in = register_module("conv_in", nn::Conv2d(c.latent_channels, ch[n - 1], 3, 1, 1, true, options));
  mid_block = register_module("mid_block", VaeMidBlock(ch[n - 1], c.norm_num_groups, c.act_fn, c.mid_block_add_attention, options));
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  int64_t out = ch[n - 1];
  for (size_t i = 0; i < n; ++i) {
    const int64_t prev = out;
    out = ch[n - 1 - i];
    up_.push_back(VaeBlock(c.layers_per_block + 1, prev, out, c.norm_num_groups, c.act_fn, false, i + 1 != n, options));
    up_blocks->push_back(up_.back());
  }
  conv_norm_out = register_module("conv_norm_out", nn::GroupNorm(c.norm_num_groups, ch[0], kVaeEps, options));
  conv_out = register_module("conv_out", nn::Conv2d(ch[0], c.out_channels, 3, 1, 1, true, options));
}

at::Tensor VaeDecoderImpl::forward(const at::Tensor& z) {
  at::Tensor h = conv_in->forward(z);
  h = mid_block->forward(h);
  for (auto& b : up_) h = b->forward(h);
  h = nn::norm_activation_(conv_norm_out, act_, h);  // the last block's output, dead after
  return conv_out->forward(h);  // [N, 3, H, W]
}

AutoencoderKLImpl::AutoencoderKLImpl(const AutoencoderKLConfig& c, const at::TensorOptions& options) : config_(c) {
  encoder = register_module("encoder", VaeEncoder(c, options));
  decoder = register_module("decoder", VaeDecoder(c, options));
  if (c.use_quant_conv)
    quant_conv = register_module("quant_conv", nn::Conv2d(2 * c.latent_channels, 2 * c.latent_channels, 1, 1, 0, true, options));
  if (c.use_post_quant_conv)
    post_quant_conv = register_module("post_quant_conv", nn::Conv2d(c.latent_channels, c.latent_channels, 1, 1, 0, true, options));
}

void AutoencoderKLImpl::enable_tiling(const VaeTiling& tiling) { tiling_ = std::make_shared<const VaeTiling>(tiling); }

void AutoencoderKLImpl::disable_tiling() { tiling_.reset(); }

LatentDistribution AutoencoderKLImpl::encode(const at::Tensor& image) {
  const bool tile = tiling_ && (!tile_when || tile_when(image, false));
  return encode_maybe_tiled(*this, image, tile ? tiling_.get() : nullptr);
}

at::Tensor AutoencoderKLImpl::decode(const at::Tensor& latents) {
  const bool tile = tiling_ && (!tile_when || tile_when(latents, true));
  return decode_maybe_tiled(*this, latents, tile ? tiling_.get() : nullptr);
}

LatentDistribution AutoencoderKLImpl::encode_plain(const at::Tensor& image) {
  at::Tensor moments = encoder->forward(image);
  if (quant_conv) moments = quant_conv->forward(moments);  // [N, 2*latent, h, w]
  return LatentDistribution::from_moments(moments);
}

LatentDistribution LatentDistribution::from_moments(const at::Tensor& moments) {
  auto parts = moments.chunk(2, 1);
  LatentDistribution d;
  d.mean = parts[0];
  d.logvar = at::clamp(parts[1], -30.0, 20.0);
  d.std = at::exp(0.5 * d.logvar);
  return d;
}

at::Tensor AutoencoderKLImpl::decode_plain(const at::Tensor& latents) {
  at::Tensor z = post_quant_conv ? post_quant_conv->forward(latents) : latents;
  return decoder->forward(z);
}

at::ScalarType vae_dtype_for(at::ScalarType dtype, bool vae_fp32, bool force_upcast) {
  return dtype == at::kHalf && (vae_fp32 || force_upcast) ? at::kFloat : dtype;
}

}  // namespace sdw
