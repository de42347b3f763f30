// UNet2DConditionModel (see unet_2d_condition.h).
#include "model/nets/unet_2d_condition.h"

#include <stdexcept>

#include "model/nets/config_json.h"
#include "model/nn/group_norm_silu.h"

namespace sdw {
namespace {

// A config value that may be a scalar or a per-block list -> per-block list.
std::vector<int64_t> per_block(const nlohmann::json& j, const char* key, size_t n, int64_t fallback) {
  if (!j.contains(key) || j[key].is_null()) return std::vector<int64_t>(n, fallback);
  const auto& v = j[key];
  if (v.is_number_integer()) return std::vector<int64_t>(n, v.get<int64_t>());
  if (v.is_array()) {
    auto out = v.get<std::vector<int64_t>>();
    if (out.size() != n)
      throw std::invalid_argument(std::string("unet config: '") + key + "' has " + std::to_string(out.size()) +
                                  " entries for " + std::to_string(n) + " blocks");
    return out;
  }
  throw std::invalid_argument(std::string("unet config: '") + key + "' must be an integer or a list");
}


void require_null_or(const nlohmann::json& j, const char* key, const nlohmann::json& allowed) {
  if (!j.contains(key) || j[key].is_null() || j[key] == allowed) return;
  throw std::invalid_argument(std::string("unet config: unsupported '") + key + "' = " + j[key].dump());
}

}  // namespace

UNet2DConditionConfig UNet2DConditionConfig::from_json(const nlohmann::json& j) {
  UNet2DConditionConfig c;
  c.in_channels = get_or<int64_t>(j, "in_channels", 4);
  c.out_channels = get_or<int64_t>(j, "out_channels", 4);
  c.block_out_channels = get_or<std::vector<int64_t>>(j, "block_out_channels", {320, 640, 1280, 1280});
  c.down_block_types = get_or<std::vector<std::string>>(
      j, "down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"});
  c.up_block_types = get_or<std::vector<std::string>>(
      j, "up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"});
  const size_t n = c.block_out_channels.size();
  if (n == 0 || c.down_block_types.size() != n || c.up_block_types.size() != n)
    throw std::invalid_argument("unet config: block_out_channels, down_block_types and up_block_types differ in length");
  for (const auto& t : c.down_block_types)
    if (t != "CrossAttnDownBlock2D" && t != "DownBlock2D")
      throw std::invalid_argument("unet config: unsupported down block type '" + t + "'");
  for (const auto& t : c.up_block_types)
    if (t != "CrossAttnUpBlock2D" && t != "UpBlock2D")
      throw std::invalid_argument("unet config: unsupported up block type '" + t + "'");
  const std::string mid = get_or<std::string>(j, "mid_block_type", "UNetMidBlock2DCrossAttn");
  if (mid != "UNetMidBlock2DCrossAttn") throw std::invalid_argument("unet config: unsupported mid_block_type '" + mid + "'");
  c.layers_per_block = per_block(j, "layers_per_block", n, 2);
  c.transformer_layers_per_block = per_block(j, "transformer_layers_per_block", n, 1);
  // diffusers: num_attention_heads = num_attention_heads or attention_head_dim (legacy naming).
  if (j.contains("num_attention_heads") && !j["num_attention_heads"].is_null())
    c.num_attention_heads = per_block(j, "num_attention_heads", n, 8);
  else
    c.num_attention_heads = per_block(j, "attention_head_dim", n, 8);
  c.cross_attention_dim = per_block(j, "cross_attention_dim", n, 1280);
  c.downsample_padding = get_or<int64_t>(j, "downsample_padding", 1);
  c.mid_block_scale_factor = get_or<double>(j, "mid_block_scale_factor", 1.0);
  c.act_fn = get_or<std::string>(j, "act_fn", "silu");
  c.norm_num_groups = get_or<int64_t>(j, "norm_num_groups", 32);
  c.norm_eps = get_or<double>(j, "norm_eps", 1e-5);
  c.flip_sin_to_cos = get_or<bool>(j, "flip_sin_to_cos", true);
  c.freq_shift = get_or<double>(j, "freq_shift", 0);
  c.use_linear_projection = get_or<bool>(j, "use_linear_projection", false);
  c.upcast_attention = get_or<bool>(j, "upcast_attention", false);
  c.sample_size = get_or<int64_t>(j, "sample_size", 64);
  if (j.contains("only_cross_attention") && j["only_cross_attention"].is_boolean())
    c.only_cross_attention = j["only_cross_attention"].get<bool>();
  else if (j.contains("only_cross_attention") && !j["only_cross_attention"].is_null())
    throw std::invalid_argument("unet config: per-block only_cross_attention is not supported");
  c.addition_embed_type = get_or<std::string>(j, "addition_embed_type", "");
  if (!c.addition_embed_type.empty() && c.addition_embed_type != "text_time")
    throw std::invalid_argument("unet config: unsupported addition_embed_type '" + c.addition_embed_type + "'");
  c.addition_time_embed_dim = get_or<int64_t>(j, "addition_time_embed_dim", 0);
  c.projection_class_embeddings_input_dim = get_or<int64_t>(j, "projection_class_embeddings_input_dim", 0);
  require_null_or(j, "class_embed_type", nullptr);
  require_null_or(j, "num_class_embeds", nullptr);
  require_null_or(j, "time_cond_proj_dim", nullptr);
  require_null_or(j, "encoder_hid_dim", nullptr);
  require_null_or(j, "time_embedding_type", "positional");
  require_null_or(j, "resnet_time_scale_shift", "default");
  require_null_or(j, "attention_type", "default");
  require_null_or(j, "dual_cross_attention", false);
  require_null_or(j, "conv_in_kernel", 3);
  require_null_or(j, "conv_out_kernel", 3);
  require_null_or(j, "center_input_sample", false);
  require_null_or(j, "resnet_out_scale_factor", 1.0);
  require_null_or(j, "time_embedding_dim", nullptr);
  require_null_or(j, "timestep_post_act", nullptr);
  require_null_or(j, "reverse_transformer_layers_per_block", nullptr);
  return c;
}

UNetBlockOptions unet_block_base(const UNet2DConditionConfig& c) {
  UNetBlockOptions base;
  base.temb_channels = c.time_embed_dim();
  base.groups = c.norm_num_groups;
  base.eps = c.norm_eps;
  base.act = c.act_fn;
  base.downsample_padding = c.downsample_padding;
  base.use_linear_projection = c.use_linear_projection;
  base.upcast_attention = c.upcast_attention;
  base.only_cross_attention = c.only_cross_attention;
  return base;
}

UNetBlockOptions unet_down_block_options(const UNet2DConditionConfig& c, int64_t i) {
  const auto& ch = c.block_out_channels;
  const int64_t n = static_cast<int64_t>(ch.size());
  UNetBlockOptions o = unet_block_base(c);
  o.in_channels = i == 0 ? ch[0] : ch[i - 1];
  o.out_channels = ch[i];
  o.num_layers = c.layers_per_block[i];
  o.transformer_layers = c.transformer_layers_per_block[i];
  o.heads = c.num_attention_heads[i];
  o.cross_attention_dim = c.cross_attention_dim[i];
  o.cross_attention = c.down_block_types[i] == "CrossAttnDownBlock2D";
  o.add_sample = i != n - 1;
  return o;
}

UNetBlockOptions unet_mid_block_options(const UNet2DConditionConfig& c) {
  const int64_t last = static_cast<int64_t>(c.block_out_channels.size()) - 1;
  UNetBlockOptions m = unet_block_base(c);
  m.in_channels = c.block_out_channels[last];
  m.out_channels = c.block_out_channels[last];
  m.num_layers = 1;
  m.transformer_layers = c.transformer_layers_per_block[last];
  m.heads = c.num_attention_heads[last];
  m.cross_attention_dim = c.cross_attention_dim[last];
  return m;
}

UNet2DConditionModelImpl::UNet2DConditionModelImpl(const UNet2DConditionConfig& c, const at::TensorOptions& options)
    : config_(c) {
  const auto& ch = c.block_out_channels;
  const int64_t n = static_cast<int64_t>(ch.size());
  const int64_t temb = c.time_embed_dim();
  conv_in = register_module("conv_in", nn::Conv2d(c.in_channels, ch[0], 3, 1, 1, true, options));
  time_embedding = register_module("time_embedding", nn::TimestepEmbedding(ch[0], temb, c.act_fn, options));
  if (c.addition_embed_type == "text_time")
    add_embedding = register_module(
        "add_embedding", nn::TimestepEmbedding(c.projection_class_embeddings_input_dim, temb, c.act_fn, options));

  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < n; ++i) {
    down_.push_back(DownBlock(unet_down_block_options(c, i), options));
    down_blocks->push_back(down_.back());
  }
  mid_block = register_module("mid_block", MidBlockCrossAttn(unet_mid_block_options(c), options));

  const UNetBlockOptions base = unet_block_base(c);
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  int64_t up_out = ch[n - 1];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = n - 1 - i;  // the mirrored down block
    UNetBlockOptions o = base;
    o.prev_output_channels = up_out;
    up_out = ch[r];
    o.out_channels = up_out;
    o.in_channels = ch[std::max<int64_t>(r - 1, 0)];
    o.num_layers = c.layers_per_block[r] + 1;
    o.transformer_layers = c.transformer_layers_per_block[r];
    o.heads = c.num_attention_heads[r];
    o.cross_attention_dim = c.cross_attention_dim[r];
    o.cross_attention = c.up_block_types[i] == "CrossAttnUpBlock2D";
    o.add_sample = i != n - 1;
    up_.push_back(UpBlock(o, options));
    up_blocks->push_back(up_.back());
  }
  conv_norm_out = register_module("conv_norm_out", nn::GroupNorm(c.norm_num_groups, ch[0], c.norm_eps, options));
  conv_out = register_module("conv_out", nn::Conv2d(ch[0], c.out_channels, 3, 1, 1, true, options));
}

at::Tensor unet_time_embedding(const UNet2DConditionConfig& config, nn::TimestepEmbedding& time_embedding,
                               nn::TimestepEmbedding& add_embedding, const at::Tensor& sample,
                               const at::Tensor& timesteps_in, const UNetAddedCond& added) {
  const int64_t batch = sample.size(0);
  const auto dtype = sample.scalar_type();
  at::Tensor timesteps = timesteps_in.to(sample.device()).reshape({-1});
  if (timesteps.numel() == 1) timesteps = timesteps.expand({batch});
  at::Tensor t_emb = nn::timestep_embedding(timesteps, config.block_out_channels[0], config.flip_sin_to_cos,
                                            config.freq_shift)
                         .to(dtype);                   // [B, C0]
  at::Tensor emb = time_embedding->forward(t_emb);    // [B, 4*C0]
  if (add_embedding) {
    if (!added.text_embeds.defined() || !added.time_ids.defined())
      throw std::invalid_argument("this UNet (text_time) needs text_embeds and time_ids");
    at::Tensor time_embeds = nn::timestep_embedding(added.time_ids.reshape({-1}), config.addition_time_embed_dim,
                                                    config.flip_sin_to_cos, config.freq_shift);
    time_embeds = time_embeds.reshape({added.text_embeds.size(0), -1});                  // [B, 6*dim]
    at::Tensor add = at::cat({added.text_embeds, time_embeds.to(added.text_embeds.scalar_type())}, -1).to(emb.scalar_type());
    emb = emb + add_embedding->forward(add);
  }
  return emb;
}

at::Tensor UNet2DConditionModelImpl::forward(const at::Tensor& sample, const at::Tensor& timesteps_in,
                                             const at::Tensor& context, const UNetAddedCond& added,
                                             const UNetControlResiduals& control) {
  // 1. time embedding
  at::Tensor emb = unet_time_embedding(config_, time_embedding, add_embedding, sample, timesteps_in, added);  // [B, 4*C0]
  // 2. pre-process
  at::Tensor h = conv_in->forward(sample);  // [B, C0, h, w]
  // 3. down
  std::vector<at::Tensor> skips{h};
  for (auto& block : down_) h = block->forward(h, emb, context, skips);
  if (!control.empty()) {  // ControlNet: residual i onto skip i
    if (control.down.size() != skips.size() || !control.mid.defined())
      throw std::invalid_argument("ControlNet residuals: " + std::to_string(control.down.size()) + " down residuals for " +
                                  std::to_string(skips.size()) + " skip connections");
    for (size_t i = 0; i < skips.size(); ++i) skips[i] = skips[i] + control.down[i];
  }
  // 4. mid
  h = mid_block->forward(h, emb, context);
  if (!control.empty()) h = h + control.mid;  // [B, C_last, h_last, w_last]
  // 5. up
  for (size_t i = 0; i < up_.size(); ++i) {
    std::vector<int64_t> size;
    const size_t consumed = up_[i]->resnets_.size();
    if (i + 1 < up_.size() && skips.size() > consumed) {
      const auto& next = skips[skips.size() - consumed - 1];
      size = {next.size(2), next.size(3)};
    }
    h = up_[i]->forward(h, emb, context, skips, size);
  }
  // 6. post-process
  h = nn::norm_activation_(conv_norm_out, config_.act_fn, h);  // the up path's last output
  return conv_out->forward(h);  // [B, out_channels, h, w]
}

}  // namespace sdw
