// ControlNetModel (see controlnet.h).
#include "model/nets/controlnet.h"

#include <stdexcept>

#include "model/nets/config_json.h"

namespace sdw {

ControlNetConfig ControlNetConfig::from_json(const nlohmann::json& j) {
  // The encoder half has the UNet's fields; the UNet parser wants up blocks, which a ControlNet
  // has none of: mirror the down blocks so its checks (lengths, types) apply unchanged.
  nlohmann::json unet = j;
  const auto down = get_or<std::vector<std::string>>(
      j, "down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"});
  std::vector<std::string> up;
  for (auto it = down.rbegin(); it != down.rend(); ++it)
    up.push_back(*it == "CrossAttnDownBlock2D" ? "CrossAttnUpBlock2D" : "UpBlock2D");
  unet["down_block_types"] = down;
  unet["up_block_types"] = up;
  ControlNetConfig c;
  c.unet = UNet2DConditionConfig::from_json(unet);
  c.conditioning_channels = get_or<int64_t>(j, "conditioning_channels", 3);
  c.conditioning_embedding_out_channels =
      get_or<std::vector<int64_t>>(j, "conditioning_embedding_out_channels", {16, 32, 96, 256});
  if (c.conditioning_embedding_out_channels.empty())
    throw std::invalid_argument("controlnet config: conditioning_embedding_out_channels is empty");
  c.global_pool_conditions = get_or<bool>(j, "global_pool_conditions", false);
  const std::string order = get_or<std::string>(j, "controlnet_conditioning_channel_order", "rgb");
  if (order != "rgb" && order != "bgr")
    throw std::invalid_argument("controlnet config: unsupported controlnet_conditioning_channel_order '" + order + "'");
  c.bgr = order == "bgr";
  return c;
}

ControlNetConditioningEmbeddingImpl::ControlNetConditioningEmbeddingImpl(int64_t embedding_channels,
                                                                         int64_t conditioning_channels,
                                                                         const std::vector<int64_t>& ch,
                                                                         const at::TensorOptions& options) {
  conv_in = register_module("conv_in", nn::Conv2d(conditioning_channels, ch[0], 3, 1, 1, true, options));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (size_t i = 0; i + 1 < ch.size(); ++i) {
    blocks_.push_back(nn::Conv2d(ch[i], ch[i], 3, 1, 1, true, options));
    blocks->push_back(blocks_.back());
    blocks_.push_back(nn::Conv2d(ch[i], ch[i + 1], 3, 2, 1, true, options));
    blocks->push_back(blocks_.back());
  }
  conv_out = register_module("conv_out", nn::Conv2d(ch.back(), embedding_channels, 3, 1, 1, true, options));
}

at::Tensor ControlNetConditioningEmbeddingImpl::forward(const at::Tensor& cond) {
  at::Tensor h = nn::activation_("silu", conv_in->forward(cond));  // [B, ch0, H, W]
  for (auto& block : blocks_) h = nn::activation_("silu", block->forward(h));  // [B, ch_i, H/2^k, W/2^k]
  return conv_out->forward(h);  // [B, C0, H/f, W/f]
}

ControlNetModelImpl::ControlNetModelImpl(const ControlNetConfig& config, const at::TensorOptions& options)
    : config_(config) {
  const UNet2DConditionConfig& c = config.unet;
  const auto& ch = c.block_out_channels;
  const int64_t n = static_cast<int64_t>(ch.size());
  const int64_t temb = c.time_embed_dim();
  conv_in = register_module("conv_in", nn::Conv2d(c.in_channels, ch[0], 3, 1, 1, true, options));
  time_embedding = register_module("time_embedding", nn::TimestepEmbedding(ch[0], temb, c.act_fn, options));
  if (c.addition_embed_type == "text_time")
    add_embedding = register_module(
        "add_embedding", nn::TimestepEmbedding(c.projection_class_embeddings_input_dim, temb, c.act_fn, options));
  controlnet_cond_embedding = register_module(
      "controlnet_cond_embedding",
      ControlNetConditioningEmbedding(ch[0], config.conditioning_channels, config.conditioning_embedding_out_channels, options));

  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  controlnet_down_blocks = register_module("controlnet_down_blocks", torch::nn::ModuleList());
  auto zero_conv = [&](int64_t channels) {
    zero_convs_.push_back(nn::Conv2d(channels, channels, 1, 1, 0, true, options));
    controlnet_down_blocks->push_back(zero_convs_.back());
  };
  zero_conv(ch[0]);  // for conv_in's output
  for (int64_t i = 0; i < n; ++i) {
    const UNetBlockOptions o = unet_down_block_options(c, i);
    down_.push_back(DownBlock(o, options));
    down_blocks->push_back(down_.back());
    for (int64_t k = 0; k < o.num_layers; ++k) zero_conv(o.out_channels);
    if (o.add_sample) zero_conv(o.out_channels);
  }
  mid_block = register_module("mid_block", MidBlockCrossAttn(unet_mid_block_options(c), options));
  controlnet_mid_block = register_module("controlnet_mid_block", nn::Conv2d(ch[n - 1], ch[n - 1], 1, 1, 0, true, options));
}

UNetControlResiduals ControlNetModelImpl::forward(const at::Tensor& sample, const at::Tensor& timesteps,
                                                  const at::Tensor& context, const at::Tensor& cond_in, double scale,
                                                  bool guess_mode, const UNetAddedCond& added) {
  const UNet2DConditionConfig& c = config_.unet;
  at::Tensor cond = cond_in.to(sample.scalar_type());
  if (config_.bgr) cond = cond.flip({1});  // [B, 3, H, W]
  // 1. time embedding
  at::Tensor emb = unet_time_embedding(c, time_embedding, add_embedding, sample, timesteps, added);  // [B, 4*C0]
  // 2. pre-process: the control image joins the latents at conv_in's output
  at::Tensor h = conv_in->forward(sample);                          // [B, C0, h, w]
  at::Tensor e = controlnet_cond_embedding->forward(cond);          // [B, C0, H/f, W/f]
  if (e.sizes() != h.sizes())
    throw std::invalid_argument("ControlNet: the control image embeds to " + std::to_string(e.size(2)) + "x" +
                                std::to_string(e.size(3)) + " but the latents are " + std::to_string(h.size(2)) + "x" +
                                std::to_string(h.size(3)));
  h = h + e;
  // 3. down
  std::vector<at::Tensor> skips{h};
  for (auto& block : down_) h = block->forward(h, emb, context, skips);
  // 4. mid
  h = mid_block->forward(h, emb, context);  // [B, C_last, h_last, w_last]
  // 5. control blocks and scaling
  UNetControlResiduals out;
  for (size_t i = 0; i < skips.size(); ++i) out.down.push_back(zero_convs_[i]->forward(skips[i]));
  out.mid = controlnet_mid_block->forward(h);
  if (guess_mode && !config_.global_pool_conditions) {
    // 0.1 .. 1.0, float32 as torch.logspace gives it, times the scale
    at::Tensor scales = at::logspace(-1, 0, static_cast<int64_t>(out.down.size()) + 1, 10.0,
                                     at::TensorOptions().dtype(at::kFloat).device(sample.device())) *
                        scale;
    for (size_t i = 0; i < out.down.size(); ++i) out.down[i] = out.down[i] * scales[static_cast<int64_t>(i)];
    out.mid = out.mid * scales[-1];
  } else {
    for (auto& d : out.down) d = d * scale;
    out.mid = out.mid * scale;
  }
  if (config_.global_pool_conditions) {
    for (auto& d : out.down) d = d.mean({2, 3}, /*keepdim=*/true);
    out.mid = out.mid.mean({2, 3}, /*keepdim=*/true);
  }
  return out;
}

}  // namespace sdw
