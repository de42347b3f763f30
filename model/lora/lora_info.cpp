// Base family, rank and size of a LoRA file (see lora_info.h).
#include "model/lora/lora_info.h"

#include <algorithm>

#include "model/lora/sgm_names.h"

namespace sdw {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

bool is_cross_attention_kv(const LoraLayer& l) {
  const char sep = l.naming == LoraNaming::kohya ? '_' : '.';
  const std::string k = std::string("attn2") + sep + "to_k", v = std::string("attn2") + sep + "to_v";
  return l.component == LoraComponent::unet && (ends_with(l.module, k) || ends_with(l.module, v));
}

}  // namespace

LoraFamilyGuess guess_lora_family(const LoraFile& file) {
  // 1. SDXL's second text encoder (or kohya's te1/te2 prefixes).
  for (const LoraLayer& l : file.layers) {
    if (l.component == LoraComponent::text_encoder_2)
      return {"sdxl", l.naming == LoraNaming::kohya ? "it has lora_te2_ keys" : "it has text_encoder_2 keys", true};
    if (starts_with(l.key, "lora_te1_")) return {"sdxl", "it has lora_te1_ keys", true};
  }
  // 2. The UNet's cross-attention width: the text embedding the UNet was trained on.
  for (const LoraLayer& l : file.layers) {
    if (!is_cross_attention_kv(l)) continue;
    const int64_t width = l.down.size(1);
    const std::string why = "its cross-attention width is " + std::to_string(width);
    if (width == 2048) return {"sdxl", why, true};
    if (width == 768) return {"sd1", why, true};
    if (width == 1024) return {"sd2", why, true};
  }
  // 3. The text encoder's width (CLIP ViT-L 768: SD1.x or SDXL's first; OpenCLIP ViT-H 1024: SD2.x).
  bool te = false;
  for (const LoraLayer& l : file.layers) {
    if (l.component != LoraComponent::text_encoder) continue;
    te = true;
    if (ends_with(l.module, "q_proj") || ends_with(l.module, "k_proj") || ends_with(l.module, "v_proj")) {
      const int64_t width = l.down.size(1);
      if (width == 1024) return {"sd2", "its text encoder width is 1024", true};
      if (width == 768) return {"sd1", "its text encoder width is 768 without a second text encoder", false};
    }
  }
  // 4. Naming habits.
  bool sgm = false, kohya_unet = false;
  for (const LoraLayer& l : file.layers)
    if (l.component == LoraComponent::unet && l.naming == LoraNaming::kohya) {
      (is_sgm_unet_name(l.module) ? sgm : kohya_unet) = true;
    }
  if (sgm) return {"sdxl", "its UNet keys use SGM block names (input_blocks_*), as kohya writes SDXL files", false};
  if (te) return {"sd1", "it has one text encoder and no text_encoder_2 keys", false};
  if (kohya_unet) return {"sd1", "its kohya UNet keys use diffusers block names, as kohya writes SD1.x/2.x files", false};
  return {"", "", false};
}

LoraInfo describe_lora(const LoraFile& file) {
  LoraInfo info;
  info.path = file.path;
  info.format = file.format;
  const LoraFamilyGuess g = guess_lora_family(file);
  info.family = g.family.empty() ? "unknown" : g.family;
  info.file_size = file.file_size;
  for (const LoraLayer& l : file.layers) {
    info.rank = std::max(info.rank, l.rank());
    info.min_rank = info.min_rank == 0 ? l.rank() : std::min(info.min_rank, l.rank());
    ++info.modules;
    if (l.component == LoraComponent::unet) ++info.unet_modules;
    if (l.component == LoraComponent::text_encoder) ++info.text_encoder_modules;
    if (l.component == LoraComponent::text_encoder_2) ++info.text_encoder_2_modules;
    if (l.down.dim() == 4 && (l.down.size(2) > 1 || l.down.size(3) > 1)) info.conv3x3 = true;
  }
  return info;
}

}  // namespace sdw
