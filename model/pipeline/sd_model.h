// A loaded Stable Diffusion model: tokenizer, text encoder, UNet, VAE and the folder's scheduler
// configuration, on one device and dtype. Built from a diffusers folder or as the demo model.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>

#include "model/embeddings/embedding_library.h"
#include "model/lora/lora_state.h"
#include "model/nets/autoencoder_kl.h"
#include "model/nets/autoencoder_tiny.h"
#include "model/pipeline/memory_options.h"
#include "model/nets/clip_text_model.h"
#include "model/tokenizer/clip_tokenizer.h"
#include "model/pipeline/unet_runner.h"
#include "model/nets/unet_2d_condition.h"

namespace sdw {

struct ModelLoadOptions {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;  // UNet and text encoder dtype
  // An fp16 model's VAE runs in fp32 when its config asks for it (force_upcast) or when this is
  // set: fp16 VAEs overflow into NaN/black images (see vae_dtype_for; bf16 VAEs stay bf16).
  bool vae_fp32 = true;
  // Single-file checkpoints only (see load_single_file_model): a diffusers folder whose configs
  // (and tokenizer) to use instead of the shipped ones (--config), and a VAE file replacing the
  // checkpoint's VAE (--vae). Empty: not given.
  std::string config_dir;
  std::string vae_file;
  // Speed settings (see SdModel): CUDA graph replay of the UNet step where possible, and
  // channels_last UNet convolution weights (unset: on for CUDA, off elsewhere; see
  // resolve_channels_last).
  bool cuda_graphs = true;
  std::optional<bool> channels_last;
  // Fused QKV projections of the UNet's and VAE's self-attention (nn/fused_qkv.h; unset:
  // SDW_FUSE_QKV, else on for CUDA only).
  std::optional<bool> fuse_qkv;
  // `--dtype fp8` (nn/fp8_linear.h): `dtype` fp16, and the UNet's (or SD3 transformer's) Linear
  // layers multiply in fp8 on a CUDA GPU that has it. Refused elsewhere (std::invalid_argument).
  bool fp8 = false;
  // SD3 only: false loads the model without text_encoder_3 (T5), whose prompt part is then zeros;
  // requests' default T5 token count (0: 256); and the device T5 runs on (unset: `device`), e.g.
  // the CPU while the transformer runs on a GPU (its embeddings are moved to `device`).
  bool load_t5 = true;
  int max_sequence_length = 0;
  std::optional<at::Device> t5_device;
  // VAE tiling and attention slicing (memory_options.h; applied by apply_speed_options).
  MemoryOptions memory;
};

struct Sd3Components;  // model/pipeline/sd3_model.h
class ModelOffload;    // model/pipeline/offload.h
class ControlNetCache;  // model/pipeline/controlnet_stage.h
// An empty ControlNet cache (every SdModel starts with one).
std::shared_ptr<ControlNetCache> make_controlnet_cache();

struct SdModel {
  std::string name;          // what the user named (path, "demo", ...)
  std::string family;        // "sd1", "sd2", "sdxl", "demo"
  std::string pipeline_class;
  std::shared_ptr<ClipTokenizer> tokenizer;
  CLIPTextModel text_encoder{nullptr};
  // SDXL: the second tokenizer and text encoder (CLIPTextModelWithProjection: OpenCLIP bigG), and
  // model_index.json's force_zeros_for_empty_prompt (no negative prompt -> zero negative embeddings).
  std::shared_ptr<ClipTokenizer> tokenizer_2;
  CLIPTextModel text_encoder_2{nullptr};
  bool force_zeros_for_empty_prompt = false;
  // SDXL refiner-style UNets condition on an aesthetic score instead of the target size
  // (model_index.json's requires_aesthetics_score; see sdxl_stages.h). A refiner has no
  // `text_encoder` (only text_encoder_2): then `text_encoder` and `tokenizer` are empty.
  bool requires_aesthetics_score = false;
  UNet2DConditionModel unet{nullptr};
  AutoencoderKL vae{nullptr};
  nlohmann::json scheduler_config;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  at::ScalarType vae_dtype = at::kFloat;
  // Defaults a request falls back to.
  int default_width = 512;
  int default_height = 512;
  int default_steps = 20;
  double default_guidance = 7.5;
  // Speed settings (see set_channels_last and unet_runner.h); set before the first step.
  bool cuda_graphs = true;
  bool channels_last = false;
  bool fuse_qkv = false;  // self-attention q/k/v from one product (nn/fused_qkv.h)
  bool fp8 = false;       // the denoiser's Linear layers in fp8 (ModelLoadOptions::fp8)
  std::shared_ptr<UNetRunner> runner;  // made on first use
  // The LoRAs fused into the UNet and text encoders now (model_loras.h); made on first use.
  std::shared_ptr<LoraState> loras;
  // Textual-inversion embeddings prompts may name (--embeddings-dir); null: none.
  std::shared_ptr<EmbeddingLibrary> embeddings;
  // SD3 (family "sd3"): T5 and the MMDiT that replaces the UNet (then `unet` is empty).
  std::shared_ptr<Sd3Components> sd3;
  // The ControlNets requests have used, loaded once on this model's device and dtype.
  std::shared_ptr<ControlNetCache> controlnets = make_controlnet_cache();
  // The memory settings in force (vae_memory.h's apply_memory_options) and the running job's
  // vae_tiling (VaeTilingScope; nullopt: the job did not say).
  MemoryOptions memory;
  std::shared_ptr<std::optional<bool>> vae_tiling_job = std::make_shared<std::optional<bool>>();
  // TAESD (taesd_use.h; --taesd): loaded when used as the final decoder (it then replaces the VAE,
  // and the latent size follows its factor) or for previews.
  AutoencoderTiny taesd{nullptr};
  bool taesd_final = false, taesd_previews = false;
  // CPU offload (--offload; offload.h): the weights in host memory, moved per stage or per layer.
  std::shared_ptr<ModelOffload> offload;

  int64_t vae_scale_factor() const { return taesd_final ? taesd->config().scale_factor() : vae->config().scale_factor(); }
  // The dtype of latents, embeddings and activations between layers: the weights' dtype, except
  // for bf16 weights on a CPU whose oneDNN has bf16 kernels, where activations stay fp32 and only
  // the products run in bf16 (see nn/layers.h: faster and closer to fp32 than all-bf16).
  at::ScalarType activation_dtype() const { return activation_dtype_for(dtype); }
  at::ScalarType vae_activation_dtype() const { return activation_dtype_for(vae_dtype); }
  at::ScalarType activation_dtype_for(at::ScalarType weights) const;
  bool is_inpainting_unet() const { return unet->config().in_channels == 9; }
  bool is_sdxl() const { return family == "sdxl"; }
  bool is_sd3() const { return family == "sd3"; }
  // Approximate bytes of all weights.
  int64_t weight_bytes() const;
  // The denoising loop's UNet: eager, or CUDA graph replays (made on first use with `cuda_graphs`).
  UNetRunner& unet_runner();
};

// Puts the UNet's convolution weights in channels_last (NHWC) memory format, or back; the
// denoising loop then feeds it NHWC inputs. Pays on CUDA with fp16/bf16 (cuDNN's NHWC tensor-core
// kernels: SD1.5 512 UNet step 11.8 -> 10.2 ms on an H200); measured slower on this project's CPU
// path. The VAE stays NCHW: its fp32 decode (the fp16 upcast) was slower in NHWC (26.7 -> 31.8 ms).
void set_channels_last(SdModel& model, bool on);
// The channels_last setting in force for a device: the explicit choice, else on for CUDA only.
bool resolve_channels_last(const std::optional<bool>& requested, const at::Device& device);

// Fuses (or unfuses) the UNet's and VAE's self-attention projections (nn/fused_qkv.h).
void set_fuse_qkv(SdModel& model, bool on);

// Applies ModelLoadOptions::cuda_graphs, ::channels_last, ::fuse_qkv and ::memory to a built model (every loader does).
void apply_speed_options(SdModel& model, const ModelLoadOptions& options);

// Loads a diffusers folder (model_index.json + components). Throws LoadError naming the problem.
std::shared_ptr<SdModel> load_diffusers_model(const std::string& folder, const ModelLoadOptions& options);

// Loads a single-file checkpoint in the original LDM layout (SD1.x, SD1.x inpainting, SD2.x, SDXL
// base `.safetensors`): configs from `options.config_dir` or the worker's data/configs/<family>,
// the CLIP tokenizer(s) from the worker's data, the VAE from `options.vae_file` when given
// (see model/loading/single_file.h). Throws LoadError naming the problem.
std::shared_ptr<SdModel> load_single_file_model(const std::string& file, const ModelLoadOptions& options);

// Where the worker's data files (the CLIP vocabulary, single-file configs) live: $SDW_DATA_DIR,
// else share/sd-worker next to the running binary (<prefix>/bin/sd-worker ->
// <prefix>/share/sd-worker, wherever the prefix is), else the configured install prefix's, else
// the source tree's data/ (a binary run from the build tree).
std::string data_dir();

}  // namespace sdw
