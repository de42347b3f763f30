// Memory estimates (see memory_estimate.h).
#include "actors/memory_estimate.h"

#include "model/nn/layers.h"
#include "model/nn/winograd_conv.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "model/nets/autoencoder_kl.h"
#include "model/pipeline/vae_memory.h"
#include "model/loading/diffusers_folder.h"
#include "model/safetensors/safetensors.h"

namespace sdw::actors {
namespace {

int64_t head_count(const nlohmann::json& unet, size_t level) {
  // diffusers' SD1.x configs name the head count "attention_head_dim" (a historical misnomer);
  // "num_attention_heads" wins where it is set.
  for (const char* key : {"num_attention_heads", "attention_head_dim"}) {
    if (!unet.contains(key) || unet[key].is_null()) continue;
    const auto& v = unet[key];
    if (v.is_array()) return v.at(std::min(level, v.size() - 1)).get<int64_t>();
    return v.get<int64_t>();
  }
  return 8;
}

}  // namespace

std::string format_bytes(int64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  else
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  return buf;
}

int64_t MemoryEstimate::device_weight_bytes() const {
  return sdw::device_weight_bytes(offload, weight_bytes, std::max({text_bytes, denoiser_bytes, vae_bytes}),
                                  largest_prepackable_bytes);
}

void MemoryEstimate::add_part(ModelPart part, int64_t bytes) {
  weight_bytes += bytes;
  (part == ModelPart::text_encoders ? text_bytes : part == ModelPart::denoiser ? denoiser_bytes : vae_bytes) += bytes;
}

std::string MemoryEstimate::describe() const {
  const std::string weights =
      offload == OffloadMode::none
          ? "weights " + format_bytes(weight_bytes)
          : "weights on the device " + format_bytes(device_weight_bytes()) + " of " + format_bytes(weight_bytes) +
                " in host memory (--offload " + offload_mode_name(offload) + ")";
  return format_bytes(total()) + " (" + weights + " + activations " +
         format_bytes(activation_bytes) +
         (prepack_bytes > 0 ? " + CPU fast path up to " + format_bytes(prepack_bytes) : "") + ")";
}

void MemoryEstimate::add_prepackable(const std::vector<int64_t>& shape, int64_t bytes, bool vae) {
  if (!vae) prepackable_bytes += bytes;
  largest_prepackable_bytes = std::max(largest_prepackable_bytes, bytes);
  if ((shape.size() == 2 || shape.size() == 4) && shape[0] > 0 && shape[1] > 0) {
    int64_t numel = 1;
    for (int64_t s : shape) numel *= s;
    prepack_padding_bytes += nn::packed_bytes_bound(shape, bytes / numel) - bytes;
  }
}

void add_cpu_prepack(MemoryEstimate& e, const at::Device& device, at::ScalarType dtype) {
  const bool onednn = device.is_cpu() && nn::cpu_onednn_enabled();
  const bool mixed_bf16 = onednn && dtype == at::kBFloat16 && nn::onednn_bf16_supported();
  // fp16-stored, or bf16-stored where oneDNN has no bf16 kernels: fp32 activations (nn/layers.h)
  const bool fp16_stored =
      device.is_cpu() && (dtype == at::kHalf || (dtype == at::kBFloat16 && !nn::onednn_bf16_supported()));
  // Without per-tensor sizes (a catalog estimate): SD's largest UNet layer, a 1280x2560x3x3
  // convolution (118 MB in fp32), at the model's element size; the padding as 1%.
  const int64_t elem = static_cast<int64_t>(c10::elementSize(dtype));
  const int64_t largest = e.largest_prepackable_bytes > 0 ? e.largest_prepackable_bytes
                                                          : std::min(e.prepackable_bytes, int64_t{1280} * 2560 * 9 * elem);
  const int64_t padding = e.largest_prepackable_bytes > 0 ? e.prepack_padding_bytes : e.prepackable_bytes / 100;
  e.prepack_bytes = 0;
  if (onednn && nn::cpu_prepack_enabled() && (dtype == at::kFloat || mixed_bf16)) e.prepack_bytes = padding + 2 * largest;
  if (fp16_stored) e.prepack_bytes = 2 * (2 * largest);  // the fp32 copy and oneDNN's reorder of it
  if (mixed_bf16 || fp16_stored) e.activation_bytes *= 2;
  // fp32 products (fp16-stored weights compute in fp32): the Winograd convolutions' work buffer,
  // at most kWinogradWorkBytesBound, and for a small model twice its largest layer in fp32 (that
  // layer is a Linear or an embedding there, larger than the 3x3 convolutions whose transformed
  // weights, 4x their size, and bands fill the buffer; test_memory_peak measures tiny-sd15).
  if (device.is_cpu() && nn::cpu_winograd_enabled() && (dtype == at::kFloat || fp16_stored))
    e.prepack_bytes += std::min<int64_t>(nn::kWinogradWorkBytesBound, 2 * largest * 4 / elem);
}

int64_t mem_available_bytes() { return device_free_bytes(at::Device(at::kCPU)); }

int64_t activation_bytes(const nlohmann::json& unet, const nlohmann::json& vae, int width, int height, int elem_size) {
  const int64_t batch = 2;  // classifier-free guidance
  const auto vae_channels = vae.value("block_out_channels", std::vector<int64_t>{128, 256, 512, 512});
  const int64_t scale = int64_t{1} << (vae_channels.empty() ? 3 : vae_channels.size() - 1);
  const int64_t h = height / scale, w = width / scale;
  // UNet: the attention scores [B, heads, tokens, tokens] of the highest-resolution attention
  // level (alive with their softmax), plus the skip connections (about 3 feature maps per level).
  const auto channels = unet.value("block_out_channels", std::vector<int64_t>{320, 640, 1280, 1280});
  const auto down = unet.value("down_block_types", std::vector<std::string>{});
  int64_t unet_bytes = 0, skips = 0;
  for (size_t i = 0; i < channels.size(); ++i) {
    const int64_t tokens = (h >> i) * (w >> i);
    skips += 3 * batch * channels[i] * tokens * elem_size;
    const bool attn = i < down.size() && down[i].find("CrossAttn") != std::string::npos;
    if (attn) unet_bytes = std::max(unet_bytes, 2 * batch * head_count(unet, i) * tokens * tokens * elem_size);
  }
  unet_bytes += skips;
  // VAE decoder (fp32, one image): the full-resolution feature maps of its last block (input,
  // output and the residual alive together) and the mid-block attention over h * w tokens.
  const int64_t first = vae_channels.empty() ? 128 : vae_channels.front();
  const int64_t vae_bytes = 3 * first * int64_t{height} * width * 4 + 2 * (h * w) * (h * w) * 4;
  return std::max(unet_bytes, vae_bytes);
}

namespace {

int64_t header_weight_bytes(const std::string& file, int64_t elem, int64_t vae_elem, bool vae_prefix,
                            MemoryEstimate* prepackable = nullptr) {
  int64_t total = 0;
  SafetensorsFile st = SafetensorsFile::open(file);
  for (const auto& [name, info] : st.infos()) {
    int64_t numel = 1;
    for (int64_t s : info.shape) numel *= s;
    const bool floating = info.dtype == "F32" || info.dtype == "F16" || info.dtype == "BF16" || info.dtype == "F64";
    // In a single file the VAE's tensors start with "first_stage_model."; they load as vae_dtype_for.
    if (name.rfind("model_ema.", 0) == 0) continue;  // EMA copies are not loaded
    const bool vae = vae_prefix && name.rfind("first_stage_model.", 0) == 0;
    const int64_t bytes = numel * (floating ? (vae ? vae_elem : elem) : static_cast<int64_t>(safetensors_dtype_size(info.dtype)));
    total += bytes;
    if (prepackable && floating) prepackable->add_prepackable(info.shape, bytes, vae);
    if (prepackable && vae_prefix)  // the parts of a single file (weight_bytes is the caller's)
      (vae ? prepackable->vae_bytes
           : name.rfind("model.diffusion_model.", 0) == 0 ? prepackable->denoiser_bytes : prepackable->text_bytes) += bytes;
  }
  return total;
}

}  // namespace

MemoryEstimate estimate_single_file(const std::string& file, at::ScalarType dtype) {
  const int64_t elem = static_cast<int64_t>(c10::elementSize(dtype));
  const int64_t vae_elem = static_cast<int64_t>(c10::elementSize(vae_dtype_for(dtype, true, true)));
  MemoryEstimate e;
  e.weight_bytes = header_weight_bytes(file, elem, vae_elem, true, &e);
  // SDXL (conditioner.embedders.*): its UNet at 1024x1024; otherwise an SD1.x UNet at 512x512.
  bool sdxl = false;
  const SafetensorsFile st = SafetensorsFile::open(file);
  for (const auto& [name, info] : st.infos())
    if (name.rfind("conditioner.embedders.", 0) == 0) sdxl = true;
  nlohmann::json unet{{"block_out_channels", {320, 640, 1280, 1280}},
                      {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
                      {"attention_head_dim", 8}};
  if (sdxl)
    unet = {{"block_out_channels", {320, 640, 1280}},
            {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
            {"attention_head_dim", {5, 10, 20}}};
  nlohmann::json vae{{"block_out_channels", {128, 256, 512, 512}}};
  const int side = sdxl ? 1024 : 512;
  e.activation_bytes = activation_bytes(unet, vae, side, side, static_cast<int>(elem));
  return e;
}

MemoryEstimate estimate_folder(const std::string& folder, at::ScalarType dtype, bool with_t5) {
  DiffusersFolder f = DiffusersFolder::open(folder);
  const int64_t elem = static_cast<int64_t>(c10::elementSize(dtype));
  const int64_t vae_elem = static_cast<int64_t>(c10::elementSize(vae_dtype_for(dtype, true, true)));
  MemoryEstimate e;
  for (const char* component : {"unet", "transformer", "text_encoder", "text_encoder_2", "text_encoder_3", "vae"}) {
    if (!f.has(component) || (!with_t5 && std::string(component) == "text_encoder_3")) continue;
    const bool vae = std::string(component) == "vae";
    for (const std::string& file : find_weight_files(f.path(component))) {
      SafetensorsFile st = SafetensorsFile::open(file);
      for (const auto& [name, info] : st.infos()) {
        int64_t numel = 1;
        for (int64_t s : info.shape) numel *= s;
        const bool floating = info.dtype == "F32" || info.dtype == "F16" || info.dtype == "BF16" || info.dtype == "F64";
        const int64_t bytes = numel * (floating ? (vae ? vae_elem : elem) : static_cast<int64_t>(safetensors_dtype_size(info.dtype)));
        const std::string c = component;
        e.add_part(vae ? ModelPart::vae
                   : c == "unet" || c == "transformer" ? ModelPart::denoiser
                                                       : ModelPart::text_encoders,
                   bytes);
        if (floating) e.add_prepackable(info.shape, bytes, vae);
      }
    }
  }
  if (!f.has("unet") && f.has("transformer")) {
    // SD3: the MMDiT's joint attention scores [2, heads, T, T] (CFG batch) over the image tokens of
    // its native size plus 77 + 256 text tokens, or the VAE decode, whichever is larger.
    const nlohmann::json t = read_json_file(f.path("transformer") + "/config.json");
    const nlohmann::json v = read_json_file(f.path("vae") + "/config.json");
    const int64_t scale = int64_t{1} << (v.value("block_out_channels", std::vector<int64_t>{1, 2, 3, 4}).size() - 1);
    const int64_t side = t.value("sample_size", int64_t{128}) * scale, per_side = side / scale / t.value("patch_size", int64_t{2});
    const int64_t tokens = per_side * per_side + 77 + 256;
    const int64_t scores = 2 * 2 * t.value("num_attention_heads", int64_t{24}) * tokens * tokens * elem;
    const nlohmann::json no_unet = {{"block_out_channels", nlohmann::json::array()}};
    e.activation_bytes = std::max(scores, activation_bytes(no_unet, v, static_cast<int>(side), static_cast<int>(side),
                                                           static_cast<int>(elem)));
    return e;
  }
  const nlohmann::json unet = read_json_file(f.path("unet") + "/config.json");
  const nlohmann::json vae = read_json_file(f.path("vae") + "/config.json");
  const auto vae_channels = vae.value("block_out_channels", std::vector<int64_t>{128, 256, 512, 512});
  const int side = unet.value("sample_size", 64) * (1 << (vae_channels.size() - 1));
  e.activation_bytes = activation_bytes(unet, vae, side, side, static_cast<int>(elem));
  return e;
}

int64_t estimate_controlnet_bytes(const std::string& path, at::ScalarType dtype) {
  const int64_t elem = static_cast<int64_t>(c10::elementSize(dtype));
  if (!std::filesystem::is_directory(path)) return header_weight_bytes(path, elem, elem, false);
  int64_t total = 0;
  for (const std::string& file : find_weight_files(path, weight_variant_for(dtype)))
    total += header_weight_bytes(file, elem, elem, false);
  return total;
}

MemoryEstimate estimate_model(const SdModel& model) {
  MemoryEstimate e;
  // The text encoders (an SDXL refiner has only the second), the UNet and the VAE.
  auto count = [&](const torch::nn::Module& m, ModelPart part) {
    for (const auto& p : m.parameters()) {
      e.add_prepackable(p.sizes().vec(), p.numel() * p.element_size(), part == ModelPart::vae);
      e.add_part(part, p.numel() * p.element_size());
    }
  };
  if (!model.text_encoder.is_empty()) count(*model.text_encoder, ModelPart::text_encoders);
  if (!model.text_encoder_2.is_empty()) count(*model.text_encoder_2, ModelPart::text_encoders);
  count(*model.unet, ModelPart::denoiser);
  if (!model.vae.is_empty()) count(*model.vae, ModelPart::vae);
  e.weight_bytes = model.weight_bytes();  // (the same sum, SD3's parts included)
  const auto& uc = model.unet->config();
  nlohmann::json unet{{"block_out_channels", uc.block_out_channels},
                      {"down_block_types", uc.down_block_types},
                      {"num_attention_heads", uc.num_attention_heads}};
  const auto& vc = model.vae->config();
  nlohmann::json vae{{"block_out_channels", vc.block_out_channels}};
  e.activation_bytes = activation_bytes(unet, vae, model.default_width, model.default_height,
                                        static_cast<int>(c10::elementSize(model.dtype)));
  return e;
}

}  // namespace sdw::actors
