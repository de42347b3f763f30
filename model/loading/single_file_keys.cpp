// LDM/SGM <-> diffusers tensor names (see single_file_keys.h).
#include "model/loading/single_file_keys.h"

#include <utility>

namespace sdw {
namespace {

using Inner = LdmKeyMap::Inner;
using NamePairs = std::vector<std::pair<std::string, std::string>>;  // {ldm, diffusers} inner prefixes

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

std::string str(int64_t i) { return std::to_string(i); }

const NamePairs& inner_pairs(Inner inner) {
  static const NamePairs none;
  // LDM ResBlock: in_layers = [GroupNorm, SiLU, Conv], emb_layers = [SiLU, Linear],
  // out_layers = [GroupNorm, SiLU, Dropout, Conv].
  static const NamePairs unet_resnet = {{"in_layers.0.", "norm1."},     {"in_layers.2.", "conv1."},
                                        {"emb_layers.1.", "time_emb_proj."}, {"out_layers.0.", "norm2."},
                                        {"out_layers.3.", "conv2."},    {"skip_connection.", "conv_shortcut."}};
  static const NamePairs vae_resnet = {{"norm1.", "norm1."}, {"conv1.", "conv1."}, {"norm2.", "norm2."},
                                       {"conv2.", "conv2."}, {"nin_shortcut.", "conv_shortcut."}};
  static const NamePairs vae_attention = {
      {"norm.", "group_norm."}, {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."}};
  static const NamePairs open_clip_layer = {{"ln_1.", "layer_norm1."},
                                            {"ln_2.", "layer_norm2."},
                                            {"mlp.c_fc.", "mlp.fc1."},
                                            {"mlp.c_proj.", "mlp.fc2."},
                                            {"attn.out_proj.", "self_attn.out_proj."}};
  switch (inner) {
    case Inner::unet_resnet: return unet_resnet;
    case Inner::vae_resnet: return vae_resnet;
    case Inner::vae_attention: return vae_attention;
    case Inner::open_clip_layer: return open_clip_layer;
    case Inner::identity: return none;
  }
  return none;
}

// The inner name after a block prefix -> diffusers inner name(s) with their transforms; empty if unknown.
std::vector<std::pair<std::string, TensorTransform>> convert_inner(Inner inner, const std::string& rest) {
  if (inner == Inner::identity) return {{rest, TensorTransform::none}};
  if (inner == Inner::open_clip_layer) {
    // Fused q/k/v projection: rows [0, H) are q, [H, 2H) k, [2H, 3H) v.
    for (const char* kind : {"weight", "bias"}) {
      if (rest == std::string("attn.in_proj_") + kind)
        return {{std::string("self_attn.q_proj.") + kind, TensorTransform::q_rows},
                {std::string("self_attn.k_proj.") + kind, TensorTransform::k_rows},
                {std::string("self_attn.v_proj.") + kind, TensorTransform::v_rows}};
    }
  }
  for (const auto& p : inner_pairs(inner)) {
    if (!starts_with(rest, p.first)) continue;
    const std::string tail = rest.substr(p.first.size());
    if (tail != "weight" && tail != "bias") return {};
    TensorTransform t = TensorTransform::none;
    if (inner == Inner::vae_attention && tail == "weight" && p.first != "norm.") t = TensorTransform::conv1x1_to_linear;
    return {{p.second + tail, t}};
  }
  return {};
}

std::string reverse_inner(Inner inner, const std::string& rest) {
  if (inner == Inner::identity) return rest;
  if (inner == Inner::open_clip_layer) {
    for (const char* kind : {"weight", "bias"})
      for (const char* proj : {"q_proj.", "k_proj.", "v_proj."})
        if (rest == std::string("self_attn.") + proj + kind) return std::string("attn.in_proj_") + kind;
  }
  for (const auto& p : inner_pairs(inner))
    if (starts_with(rest, p.second)) return p.first + rest.substr(p.second.size());
  return "";
}

}  // namespace

const char* component_name(SdComponent c) {
  switch (c) {
    case SdComponent::unet: return "unet";
    case SdComponent::vae: return "vae";
    case SdComponent::text_encoder: return "text_encoder";
    case SdComponent::text_encoder_2: return "text_encoder_2";
  }
  return "?";
}

const char* text_tower_name(TextTower t) {
  switch (t) {
    case TextTower::openai_clip: return "OpenAI CLIP (cond_stage_model.transformer.*, SD1.x)";
    case TextTower::open_clip: return "OpenCLIP (cond_stage_model.model.*, SD2.x)";
    case TextTower::sdxl: return "CLIP + OpenCLIP (conditioner.embedders.*, SDXL)";
  }
  return "?";
}

LdmLayout LdmLayout::from_configs(const UNet2DConditionConfig& unet, const AutoencoderKLConfig& vae, TextTower text,
                                  int64_t text_layers, int64_t text2_layers) {
  LdmLayout l;
  l.text = text;
  l.unet_layers_per_block = unet.layers_per_block;
  for (const auto& t : unet.down_block_types) l.unet_down_attention.push_back(t == "CrossAttnDownBlock2D");
  for (const auto& t : unet.up_block_types) l.unet_up_attention.push_back(t == "CrossAttnUpBlock2D");
  l.unet_add_embedding = !unet.addition_embed_type.empty();
  l.vae_levels = static_cast<int64_t>(vae.block_out_channels.size());
  l.vae_layers_per_block = vae.layers_per_block;
  l.text_layers = text_layers;
  l.text2_layers = text2_layers;
  return l;
}

LdmLayout LdmLayout::vae_only(const AutoencoderKLConfig& vae, const std::string& prefix) {
  LdmLayout l;
  l.vae_levels = static_cast<int64_t>(vae.block_out_channels.size());
  l.vae_layers_per_block = vae.layers_per_block;
  l.vae_prefix = prefix;
  l.text_layers = -1;  // no text tower, no UNet: add_* are skipped for an empty UNet layout
  return l;
}

LdmKeyMap::LdmKeyMap(const LdmLayout& layout) : layout_(layout) {
  // Ignored everywhere: the LDM training schedule (diffusers recomputes it from the scheduler
  // config), EMA copies and the learned-variance parameter of the training objective.
  for (const char* buffer : {"betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                             "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
                             "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
                             "posterior_mean_coef1", "posterior_mean_coef2"})
    ignores_.push_back({buffer, false, "LDM DDPM schedule buffer (the scheduler config defines the schedule)"});
  ignores_.push_back({"model_ema.", true, "EMA copy of the UNet (model.diffusion_model.* is used)"});
  ignores_.push_back({"logvar", false, "LDM training loss parameter"});
  if (!layout_.unet_layers_per_block.empty()) add_unet();
  if (layout_.include_vae) {
    add_vae();
  } else if (!layout_.vae_prefix.empty()) {
    ignores_.push_back({layout_.vae_prefix, true, "the checkpoint's VAE, replaced by --vae"});
  }
  if (layout_.text_layers >= 0) add_text();
}

void LdmKeyMap::add_unet() {
  const std::string U = "model.diffusion_model.";
  const auto C = SdComponent::unet;
  auto add = [&](const std::string& ldm, const std::string& diffusers, Inner inner = Inner::identity) {
    blocks_.push_back({C, U + ldm, diffusers, inner});
  };
  // 1. embeddings, conv_in / out
  add("time_embed.0.", "time_embedding.linear_1.");
  add("time_embed.2.", "time_embedding.linear_2.");
  if (layout_.unet_add_embedding) {
    add("label_emb.0.0.", "add_embedding.linear_1.");
    add("label_emb.0.2.", "add_embedding.linear_2.");
  }
  add("input_blocks.0.0.", "conv_in.");
  add("out.0.", "conv_norm_out.");
  add("out.2.", "conv_out.");
  // 2. down: input_blocks.{k}: k = 1 + (layers + 1) * level + j; the downsampler takes the slot after the last resnet.
  const auto& lpb = layout_.unet_layers_per_block;
  const size_t n = lpb.size();
  int64_t k = 1;
  for (size_t i = 0; i < n; ++i) {
    const std::string d = "down_blocks." + str(i) + ".";
    for (int64_t j = 0; j < lpb[i]; ++j, ++k) {
      add("input_blocks." + str(k) + ".0.", d + "resnets." + str(j) + ".", Inner::unet_resnet);
      if (layout_.unet_down_attention.at(i)) add("input_blocks." + str(k) + ".1.", d + "attentions." + str(j) + ".");
    }
    if (i + 1 < n) add("input_blocks." + str(k++) + ".0.op.", d + "downsamplers.0.conv.");
  }
  // 3. mid: resnet, transformer, resnet
  add("middle_block.0.", "mid_block.resnets.0.", Inner::unet_resnet);
  add("middle_block.1.", "mid_block.attentions.0.");
  add("middle_block.2.", "mid_block.resnets.1.", Inner::unet_resnet);
  // 4. up: output_blocks.{k}, layers + 1 per level (reversed), each [resnet, (transformer), (upsampler)].
  k = 0;
  for (size_t i = 0; i < n; ++i) {
    const std::string u = "up_blocks." + str(i) + ".";
    const int64_t layers = lpb[n - 1 - i] + 1;
    const bool attn = layout_.unet_up_attention.at(i);
    for (int64_t j = 0; j < layers; ++j, ++k) {
      add("output_blocks." + str(k) + ".0.", u + "resnets." + str(j) + ".", Inner::unet_resnet);
      if (attn) add("output_blocks." + str(k) + ".1.", u + "attentions." + str(j) + ".");
      if (j + 1 == layers && i + 1 < n)
        add("output_blocks." + str(k) + "." + (attn ? "2" : "1") + ".conv.", u + "upsamplers.0.conv.");
    }
  }
}

void LdmKeyMap::add_vae() {
  const std::string V = layout_.vae_prefix;
  const auto C = SdComponent::vae;
  auto add = [&](const std::string& ldm, const std::string& diffusers, Inner inner = Inner::identity) {
    blocks_.push_back({C, V + ldm, diffusers, inner});
  };
  const int64_t n = layout_.vae_levels;
  const int64_t L = layout_.vae_layers_per_block;
  for (const std::string part : {"encoder.", "decoder."}) {
    add(part + "conv_in.", part + "conv_in.");
    add(part + "conv_out.", part + "conv_out.");
    add(part + "norm_out.", part + "conv_norm_out.");
    add(part + "mid.block_1.", part + "mid_block.resnets.0.", Inner::vae_resnet);
    add(part + "mid.block_2.", part + "mid_block.resnets.1.", Inner::vae_resnet);
    add(part + "mid.attn_1.", part + "mid_block.attentions.0.", Inner::vae_attention);
  }
  add("quant_conv.", "quant_conv.");
  add("post_quant_conv.", "post_quant_conv.");
  for (int64_t i = 0; i < n; ++i) {
    const std::string d = "encoder.down_blocks." + str(i) + ".";
    for (int64_t j = 0; j < L; ++j)
      add("encoder.down." + str(i) + ".block." + str(j) + ".", d + "resnets." + str(j) + ".", Inner::vae_resnet);
    if (i + 1 < n) add("encoder.down." + str(i) + ".downsample.conv.", d + "downsamplers.0.conv.");
  }
  // LDM's Decoder numbers its levels from full resolution (up.0) while diffusers' up_blocks start
  // at the lowest resolution: up_blocks.i = up.{n-1-i}.
  for (int64_t i = 0; i < n; ++i) {
    const std::string u = "decoder.up_blocks." + str(i) + ".";
    const std::string ldm = "decoder.up." + str(n - 1 - i) + ".";
    for (int64_t j = 0; j <= L; ++j) add(ldm + "block." + str(j) + ".", u + "resnets." + str(j) + ".", Inner::vae_resnet);
    if (i + 1 < n) add(ldm + "upsample.conv.", u + "upsamplers.0.conv.");
  }
}

void LdmKeyMap::add_open_clip(SdComponent c, const std::string& P, int64_t layers, bool keep_projection) {
  blocks_.push_back({c, P + "token_embedding.weight", "text_model.embeddings.token_embedding.weight", Inner::identity, true});
  blocks_.push_back({c, P + "positional_embedding", "text_model.embeddings.position_embedding.weight", Inner::identity, true});
  blocks_.push_back({c, P + "ln_final.", "text_model.final_layer_norm."});
  for (int64_t i = 0; i < layers; ++i)
    blocks_.push_back({c, P + "transformer.resblocks." + str(i) + ".", "text_model.encoder.layers." + str(i) + ".",
                       Inner::open_clip_layer});
  if (keep_projection) {
    blocks_.push_back({c, P + "text_projection", "text_projection.weight", Inner::identity, true, TensorTransform::transpose});
  } else {
    ignores_.push_back({P + "text_projection", false, "OpenCLIP text projection (not used by SD2)"});
  }
  ignores_.push_back({P + "logit_scale", false, "OpenCLIP contrastive temperature (not used)"});
}

void LdmKeyMap::add_text() {
  switch (layout_.text) {
    case TextTower::openai_clip: {
      const std::string T = "cond_stage_model.transformer.";
      blocks_.push_back({SdComponent::text_encoder, T + "text_model.", "text_model."});
      ignores_.push_back({T + "text_model.embeddings.position_ids", false, "position_ids buffer (always 0..76)"});
      break;
    }
    case TextTower::open_clip: {
      const std::string P = "cond_stage_model.model.";
      add_open_clip(SdComponent::text_encoder, P, layout_.text_layers, false);
      // SD2 conditions on the penultimate OpenCLIP layer: diffusers' text encoder stops one block
      // early and the checkpoint's last block is unused.
      ignores_.push_back({P + "transformer.resblocks." + str(layout_.text_layers) + ".", true,
                          "last OpenCLIP block (SD2 uses the penultimate layer)"});
      break;
    }
    case TextTower::sdxl: {
      const std::string T = "conditioner.embedders.0.transformer.";
      blocks_.push_back({SdComponent::text_encoder, T + "text_model.", "text_model."});
      ignores_.push_back({T + "text_model.embeddings.position_ids", false, "position_ids buffer (always 0..76)"});
      add_open_clip(SdComponent::text_encoder_2, "conditioner.embedders.1.model.", layout_.text2_layers, true);
      break;
    }
  }
}

KeyConversion LdmKeyMap::convert(const std::string& name) const {
  KeyConversion out;
  for (const auto& r : ignores_) {
    if (r.prefix ? starts_with(name, r.pattern) : name == r.pattern) {
      out.kind = KeyConversion::Kind::ignored;
      out.reason = r.reason;
      return out;
    }
  }
  const Block* best = nullptr;
  for (const auto& b : blocks_) {
    const bool match = b.exact ? name == b.ldm : starts_with(name, b.ldm);
    if (match && (!best || b.ldm.size() > best->ldm.size())) best = &b;
  }
  if (!best) return out;
  if (best->exact) {
    out.kind = KeyConversion::Kind::converted;
    out.targets.push_back({best->component, best->diffusers, best->transform});
    return out;
  }
  for (auto& t : convert_inner(best->inner, name.substr(best->ldm.size())))
    out.targets.push_back({best->component, best->diffusers + t.first, t.second});
  if (!out.targets.empty()) out.kind = KeyConversion::Kind::converted;
  return out;
}

std::string LdmKeyMap::ldm_name(SdComponent component, const std::string& name) const {
  const Block* best = nullptr;
  for (const auto& b : blocks_) {
    if (b.component != component) continue;
    const bool match = b.exact ? name == b.diffusers : starts_with(name, b.diffusers);
    if (match && (!best || b.diffusers.size() > best->diffusers.size())) best = &b;
  }
  if (!best) return "";
  if (best->exact) return best->ldm;
  const std::string rest = reverse_inner(best->inner, name.substr(best->diffusers.size()));
  return rest.empty() ? "" : best->ldm + rest;
}

std::vector<int64_t> converted_shape(TensorTransform t, const std::vector<int64_t>& s) {
  std::vector<int64_t> out = s;
  switch (t) {
    case TensorTransform::none: break;
    case TensorTransform::conv1x1_to_linear:
      if (s.size() == 4 && s[2] == 1 && s[3] == 1) out = {s[0], s[1]};
      break;
    case TensorTransform::q_rows:
    case TensorTransform::k_rows:
    case TensorTransform::v_rows:
      if (!s.empty() && s[0] % 3 == 0) out[0] = s[0] / 3;
      break;
    case TensorTransform::transpose:
      if (s.size() == 2) out = {s[1], s[0]};
      break;
  }
  return out;
}

at::Tensor convert_tensor(TensorTransform t, const at::Tensor& x) {
  switch (t) {
    case TensorTransform::none: return x;
    case TensorTransform::conv1x1_to_linear:
      return (x.dim() == 4 && x.size(2) == 1 && x.size(3) == 1) ? x.flatten(1) : x;  // [C, C, 1, 1] -> [C, C]
    case TensorTransform::q_rows:
    case TensorTransform::k_rows:
    case TensorTransform::v_rows: {
      if (x.dim() == 0 || x.size(0) % 3 != 0) return x;
      const int64_t h = x.size(0) / 3;
      const int64_t part = t == TensorTransform::q_rows ? 0 : t == TensorTransform::k_rows ? 1 : 2;
      return x.narrow(0, part * h, h);  // [3H, ...] -> [H, ...]
    }
    case TensorTransform::transpose: return x.dim() == 2 ? x.t() : x;
  }
  return x;
}

std::string current_vae_attention_name(const std::string& name) {
  static const NamePairs old_names = {{"query.", "to_q."}, {"key.", "to_k."}, {"value.", "to_v."}, {"proj_attn.", "to_out.0."}};
  const std::string marker = "mid_block.attentions.0.";
  const size_t at = name.find(marker);
  if (at == std::string::npos) return name;
  const std::string rest = name.substr(at + marker.size());
  for (const auto& p : old_names)
    if (starts_with(rest, p.first)) return name.substr(0, at + marker.size()) + p.second + rest.substr(p.first.size());
  return name;
}

}  // namespace sdw
