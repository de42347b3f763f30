// One denoising step, for one job or for several at once. denoise_step (declared in stages.h)
// runs a job's UNet evaluation (CFG as one batch-2 call) and its scheduler step; the batched step
// runs one UNet (or SD3 transformer) call for several jobs that wait together - each job at its
// own timestep, with its own prompt, guidance, scheduler and generator - then each job's scheduler
// step on its slice of the prediction. So a job's image is the one it gets alone up to float
// rounding (the matmuls see a larger batch). This is the denoiser actor's continuous batching:
// jobs join and leave the batch at any step.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "model/pipeline/stages.h"

namespace sdw {

// Whether `a` and `b` can share one UNet call: neither has ControlNets, DeepCache or ToMe (their
// UNet calls differ per job), both use CFG or neither, and their latents, UNet inputs (4 or 9
// channels), text contexts and SDXL conditionings agree in every size but the batch. Both must
// be states of `model` (the caller groups by model).
bool can_batch(const SdModel& model, const DenoiseState& a, const DenoiseState& b);

// One step of every state in `states` (pairwise can_batch, none done) through one model call;
// one state is denoise_step itself. Throws like denoise_step.
void denoise_step_batch(SdModel& model, const std::vector<DenoiseState*>& states);

// The pieces of a step, shared by denoise_step and the batched step.
// The UNet's input at timestep `t`: the latents (twice with CFG) scaled by the scheduler
// [B, 4, h, w]; `with_inpaint` appends the 9-channel UNet's mask and masked-image latents
// ([B, 9, h, w]).
at::Tensor step_model_input(DenoiseState& s, double t, bool with_inpaint);
at::Tensor add_inpaint_channels(const DenoiseState& s, const at::Tensor& x);
// The guidance on `noise_pred` [B, 4, h, w], the scheduler step, the legacy inpaint blend, and
// the step counter.
void finish_step(DenoiseState& s, double t, at::Tensor noise_pred);

}  // namespace sdw
