// The SDXL-only parts of the pipeline stages, following diffusers 0.30's
// StableDiffusionXL{,Img2Img,Inpaint}Pipeline: the added time ids (size conditioning, or the
// refiner's aesthetic score), the img2img timesteps (strength or denoising_start, without a
// scheduler begin index), denoising_end, and the checks of those request fields.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

#include "model/pipeline/request.h"
#include "model/pipeline/sd_model.h"
#include "model/schedulers/scheduler.h"

namespace sdw {

// One row of added time ids each for the prompt and the negative prompt, [1, 6] or, for a UNet
// that requires an aesthetic score, [1, 5] (diffusers' `_get_add_time_ids`):
//   size:       (H, W, 0, 0, H, W) for both rows (original = target = the processed image size)
//   aesthetics: (H, W, 0, 0, aesthetic_score) and (H, W, 0, 0, negative_aesthetic_score)
// `r` is resolved (width and height set). Throws LoadError when the UNet's add_embedding width
// fits neither layout (diffusers' ValueError).
struct SdxlTimeIds {
  at::Tensor positive;  // [1, 5|6]
  at::Tensor negative;  // [1, 5|6]
};
SdxlTimeIds sdxl_time_ids(const SdModel& model, const GenerationRequest& r);

// diffusers' `discrete_timestep_cutoff`: int(round(T - fraction * T)), T = num_train_timesteps.
int64_t denoising_cutoff(double fraction, int64_t num_train_timesteps);

// StableDiffusionXLImg2ImgPipeline.get_timesteps after set_timesteps(steps) (called here). Without
// denoising_start: timesteps[t_start * order:] with t_start = steps - min(int(steps * strength),
// steps). With it: the trailing timesteps below denoising_cutoff(denoising_start) (one more for a
// second-order scheduler when the count is even). No set_begin_index: the scheduler finds its
// start from the first timestep, as diffusers' SDXL pipelines leave it.
at::Tensor sdxl_img2img_timesteps(Scheduler& scheduler, int steps, double strength,
                                  std::optional<double> denoising_start);

// The leading timesteps >= denoising_cutoff(denoising_end) (diffusers' "Apply denoising_end").
at::Tensor apply_denoising_end(const at::Tensor& timesteps, double denoising_end, int64_t num_train_timesteps);

// Checks the SDXL-only fields of a request (denoising_start / denoising_end / aesthetic scores)
// for `model`; throws RequestError naming the field.
void check_sdxl_fields(const SdModel& model, const GenerationRequest& r);

// diffusers' default strengths: SDXL img2img 0.3, SDXL inpaint 0.9999; SD1.x/2.x 0.8 (this
// worker's default since its first release).
double default_strength(const SdModel& model, GenerationMode mode);

}  // namespace sdw
