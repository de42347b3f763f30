// ControlNet in the SD1.x/2.x and SDXL (txt2img: StableDiffusionXLControlNetPipeline) denoising
// loop, as diffusers' StableDiffusionControlNetPipeline,
// StableDiffusionControlNetImg2ImgPipeline, StableDiffusionControlNetInpaintPipeline (and
// MultiControlNetModel) do it: the request's ControlNets are checked against the model and
// their control images resized when the request is resolved, the images become tensors when the
// denoising state is prepared, and each step asks control_residuals for the residuals the UNet
// adds (denoise_step's hook; no second step loop). The ControlNets are loaded once per model and
// kept (ControlNetCache).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/nets/controlnet.h"
#include "model/pipeline/control_use.h"

namespace sdw {

struct SdModel;
struct GenerationRequest;
struct RequestLimits;

// The ControlNets a model has loaded, by folder: each on the model's device (the CPU under CPU
// offload, offload.h) and dtype, loaded on first use and kept for later requests (a served worker
// loads its --controlnet folders at start).
class ControlNetCache {
 public:
  // The ControlNet of `dir` (loaded now if new). Throws LoadError.
  ControlNetModel get(const SdModel& model, const std::string& dir);
  // Every ControlNet loaded so far (CPU offload moves them with the denoiser).
  std::vector<ControlNetModel> loaded() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, ControlNetModel> nets_;
};

// Checks and normalises `r.controlnets` before any stage runs (RequestError naming the field):
// count (at most limits.max_controlnets), a control image each, scale in [0, 2], 0 <= start < end
// <= 1, an SD1.x/2.x or SDXL model (txt2img, img2img or inpaint, not with denoising_start; the guidance window is
// over the UNet calls the mode runs: img2img's and inpaint's truncated schedule), and each ControlNet fitting the UNet (cross_attention_dim,
// block_out_channels, layers_per_block, latent channels, conditioning downscale = VAE factor,
// SDXL's addition_embed_type and projection_class_embeddings_input_dim);
// loads them through the model's cache. Control images are resized to width x height as
// diffusers' control_image_processor does (RGB, Pillow Lanczos when the size differs).
void check_request_controlnets(const SdModel& model, GenerationRequest& r, const RequestLimits& limits);

// One ControlNet of a job, ready for the steps.
struct ControlNetUnit {
  ControlNetModel net{nullptr};
  at::Tensor image;  // [B, 3, H, W] in [0, 1]: num_images copies (x2 with CFG outside guess mode)
  double scale = 1.0, start = 0.0, end = 1.0;
};

struct ControlState {
  std::vector<ControlNetUnit> units;
  bool guess_mode = false;  // the request's guess_mode, or the first net's global_pool_conditions
  // The UNet calls the guidance window counts when not the job's own: SDXL txt2img with
  // denoising_end (a refiner hand-off's base) counts the whole schedule, as diffusers computes
  // controlnet_keep before it applies denoising_end. 0: the job's timesteps.
  int64_t window_calls = 0;
  bool empty() const { return units.empty(); }
};

// The job's ControlNets with their control images as tensors (diffusers' prepare_image:
// [0, 1], repeat_interleave(num_images), cat([image] * 2) with CFG unless in guess mode).
ControlState prepare_control(SdModel& model, const GenerationRequest& r, bool cfg);

// diffusers' controlnet_keep for step `i` of `total` UNet calls (len(timesteps); img2img and
// inpaint: the schedule after strength cut it):
// 1 - float(i / total < start or (i + 1) / total > end).
double control_keep(int64_t i, int64_t total, double start, double end);

// The summed residuals of every ControlNet for one UNet call: `x` the UNet's latent input
// ([B, 4, h, w], CFG-doubled when `cfg`; a 9-channel inpainting UNet's mask and masked-image
// channels are not part of it, as diffusers' control_model_input), timestep `t`, `context` the UNet's text conditioning.
// Each net runs with scale * control_keep (it runs at 0 too, as diffusers); in guess mode with
// CFG only the conditional half goes through it and the unconditional half gets zeros.
// SDXL: `added` is the UNet's added_cond_kwargs (text_embeds, time_ids), which every ControlNet
// gets too (StableDiffusionXLControlNetPipeline; their conditional halves in guess mode).
UNetControlResiduals control_residuals(const ControlState& control, const at::Tensor& x, double t,
                                       const at::Tensor& context, bool cfg, int64_t step, int64_t total,
                                       const UNetAddedCond& added = {});

}  // namespace sdw
