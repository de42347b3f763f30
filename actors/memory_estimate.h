// How much memory a model needs on its device, estimated before it is loaded: the weights (from
// the safetensors headers, at the dtype they will be loaded as) plus the activations of one
// generation at the model's default size (the largest attention score matrix of the UNet with
// classifier-free guidance, or the VAE decoder's largest feature maps, whichever is larger).
// On CPU it is compared with MemAvailable from /proc/meminfo.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "model/pipeline/offload.h"
#include "model/pipeline/sd_model.h"

namespace sdw::actors {

struct MemoryEstimate {
  int64_t weight_bytes = 0;
  int64_t activation_bytes = 0;
  // Weights of the UNet and text encoder(s) (not the VAE), at the dtype they load as: what the
  // CPU fast path may pack into oneDNN's layout (model/nn/packed_layer.h) or convert per product.
  int64_t prepackable_bytes = 0;
  // The largest tensor a layer may pack (the VAE's included) and what oneDNN's block padding may
  // add to all of them (nn::packed_bytes_bound); 0: unknown (a catalog estimate).
  int64_t largest_prepackable_bytes = 0;
  int64_t prepack_padding_bytes = 0;
  // What the CPU fast path adds (add_cpu_prepack): the packed weights replace the plain ones, so
  // their block padding plus the copies of one layer alive while it is packed, or (fp16-stored
  // weights) converted to fp32 for one product.
  int64_t prepack_bytes = 0;
  // The weights of each part a stage runs (model/pipeline/offload.h: text encoders, denoiser with
  // its ControlNets, VAE); 0: unknown (a catalog estimate). And the model's --offload.
  int64_t text_bytes = 0, denoiser_bytes = 0, vae_bytes = 0;
  OffloadMode offload = OffloadMode::none;
  // The weights on the device at once: all of them, or under offload the largest part (model) or
  // the largest layer (sequential); the rest stays in host memory.
  int64_t device_weight_bytes() const;
  // What the device needs: its weights, the activations and the CPU fast path's extra.
  int64_t total() const { return device_weight_bytes() + activation_bytes + prepack_bytes; }
  // Adds one UNet / text encoder tensor of `shape` and `bytes` to the prepackable counts, or one of
  // the VAE's to the largest tensor and the padding only.
  void add_prepackable(const std::vector<int64_t>& shape, int64_t bytes, bool vae = false);
  // Adds `bytes` of a part's weights to weight_bytes and that part's count.
  void add_part(ModelPart part, int64_t bytes);
  // "1.9 GiB (weights 1.6 GiB + activations 0.3 GiB[ + CPU fast path up to 0.2 GiB])", under
  // offload "... (weights on the device 0.4 GiB of 1.6 GiB in host memory + ...)"
  std::string describe() const;
};

// Adds what the CPU fast paths cost (nn/layers.h) when a model of `dtype` runs on `device`: for
// fp32 models with prepacking on and bf16 models on the mixed path, the packed weights' block
// padding and two more copies of the largest layer (its plain, oneDNN and packed forms alive
// together while it is packed); for fp16-stored weights, the largest layer converted to fp32 and
// oneDNN's reorder of it. The mixed bf16 and fp16-stored paths' activations are fp32 (twice the
// 16-bit estimate). Call once per estimate.
void add_cpu_prepack(MemoryEstimate& e, const at::Device& device, at::ScalarType dtype);

// MemAvailable of /proc/meminfo in bytes; -1 where it cannot be read.
int64_t mem_available_bytes();

std::string format_bytes(int64_t bytes);

// Activations of one generation of width x height with CFG (batch 2), UNet at `elem_size` bytes
// per element and the VAE in fp32. Uses the diffusers config.json fields.
int64_t activation_bytes(const nlohmann::json& unet_config, const nlohmann::json& vae_config, int width, int height,
                         int elem_size);

// From a diffusers folder, without loading it (reads the configs and the safetensors headers).
// with_t5 false: SD3's text_encoder_3 is not counted (loaded without T5, or on another device).
MemoryEstimate estimate_folder(const std::string& folder, at::ScalarType dtype, bool with_t5 = true);

// From a single-file checkpoint's header; activations as an SD1.x UNet/VAE at 512x512, or for an
// SDXL file (conditioner.embedders.*) its UNet at 1024x1024.
MemoryEstimate estimate_single_file(const std::string& file, at::ScalarType dtype);

// The weights of a ControlNet (a diffusers folder or a single .safetensors file) loaded at
// `dtype`, from its safetensors headers: what serve --controlnet adds to the model's estimate.
int64_t estimate_controlnet_bytes(const std::string& path, at::ScalarType dtype);

// From a loaded model (its parameters and configs) at its default size.
MemoryEstimate estimate_model(const SdModel& model);

}  // namespace sdw::actors
