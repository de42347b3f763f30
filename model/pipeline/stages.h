// The pipeline's stages as plain functions over a job's state, mirroring diffusers'
// StableDiffusion{,Img2Img,Inpaint}Pipeline __call__: encode the prompt, prepare the latents
// (with every random draw in diffusers' order), one denoising step at a time, decode. The actors
// call the same stages one message at a time; `generate` runs them in a loop.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <vector>

#include "model/pipeline/controlnet_stage.h"
#include "model/pipeline/request.h"
#include "model/pipeline/sd_model.h"
#include "model/pipeline/speed_use.h"
#include "model/schedulers/scheduler.h"

namespace sdw {

// Text conditioning for one request: [uncond x N, cond x N] with CFG, [cond x N] without.
struct PromptEmbeddings {
  at::Tensor context;  // [B, 77, cross_dim] ([B, 77 * chunks, cross_dim] with PromptSyntax::a1111)
  bool cfg = false;
  UNetAddedCond added;  // SDXL: pooled text embeddings [B, 1280] and size/crop time ids [B, 6]
};

// Applies model defaults and checks every value; throws RequestError naming the field.
ResolvedRequest resolve_request(const SdModel& model, GenerationRequest request,
                                const RequestLimits& limits = {});

// First brings the model's fused LoRAs to the request's set (apply_request_loras: the same set
// as the previous job costs nothing; none restores the base weights), so text-encoder LoRAs act
// on this prompt and the UNet's on the steps that follow.
// SD1.x/2.x: CLIP last hidden state (clip_skip: an earlier layer + final_layer_norm). SDXL
// (diffusers' StableDiffusionXLPipeline.encode_prompt): both encoders' penultimate hidden states
// concatenated, text_encoder_2's projected pooled output, and the time ids of the request's size.
// PromptSyntax::a1111 (SD1/SD2/SDXL): A1111's weights and 75-token chunks, a1111_conditioning.h;
// SD3 reads every prompt as diffusers does.
PromptEmbeddings encode_prompt(SdModel& model, const ResolvedRequest& request);

// Everything the denoising loop needs; built by prepare_denoise, advanced by denoise_step.
struct DenoiseState {
  std::unique_ptr<Scheduler> scheduler;
  at::Generator generator;
  at::Tensor timesteps;     // the timesteps still to run (img2img starts later)
  int64_t step = 0;         // index into timesteps
  at::Tensor latents;       // [N, 4, h, w]
  PromptEmbeddings prompt;
  double guidance = 7.5;
  // inpainting
  bool inpaint9 = false;         // 9-channel UNet
  bool inpaint_legacy = false;   // 4-channel UNet with latent blending
  at::Tensor mask;               // [B, 1, h, w] (CFG-duplicated for the 9-channel UNet)
  at::Tensor masked_image_latents;
  at::Tensor image_latents;      // [N, 4, h, w] clean init latents (legacy blending)
  at::Tensor noise;              // [N, 4, h, w] the noise of prepare (legacy blending)
  // ControlNets: run before each UNet call, their residuals added in the UNet (controlnet_stage.h)
  ControlState control;
  // DeepCache and ToMe (speed_use.h); off: the UNet runs through model.unet_runner()
  SpeedState speed;
  int64_t total() const { return timesteps.size(0); }
  bool done() const { return step >= total(); }
};

// Tensors that replace what prepare_denoise would make, as diffusers' pipelines accept them:
// `latents` = the `latents=` argument (noise before init_noise_sigma), `image` = the init image as
// [1, 3, H, W] in [-1, 1], `mask` = [1, 1, H, W] in {0, 1}. Used by replay tests and tools.
// `init_latents` (img2img; diffusers' 4-channel `image` argument: no VAE encode): with
// denoising_start (SDXL) the latents [1|N, 4, h, w] a base model stopped at (denoising_end), taken
// unchanged as the refiner's start; without it (hires fix's upscaled latents) noised at the first
// timestep like encoded ones.
struct PrepareOverrides {
  at::Tensor latents;
  at::Tensor image;
  at::Tensor mask;
  at::Tensor init_latents;
};

DenoiseState prepare_denoise(SdModel& model, const ResolvedRequest& request, PromptEmbeddings prompt,
                             const PrepareOverrides& overrides = {});
// One UNet evaluation (CFG as one batch-2 call) and one scheduler step.
void denoise_step(SdModel& model, DenoiseState& state);
// VAE decode -> [N, H, W, 3] float in [0, 1] (diffusers' output_type="np").
at::Tensor decode_latents(SdModel& model, const at::Tensor& latents);
// Float images -> 8-bit RGB (round half to even, as numpy).
std::vector<Image> to_images(const at::Tensor& images_nhwc);

// Image -> [1, 3, H, W] in [-1, 1]; mask -> [1, 1, H, W] binarised (>= 0.5 -> 1).
at::Tensor image_to_tensor(const Image& image);
at::Tensor mask_to_tensor(const Image& mask);

}  // namespace sdw
