// One whole generation (txt2img, img2img or inpaint) through the stages, with a per-step
// callback and a cancellation check between steps.
#pragma once

#include <functional>
#include <stdexcept>

#include "model/pipeline/stages.h"

namespace sdw {

class CancelledError : public std::runtime_error {
 public:
  CancelledError() : std::runtime_error("cancelled") {}
};

struct GenerateHooks {
  // After each denoising step: (1-based step, total steps, latents after the step).
  std::function<void(int step, int total, const at::Tensor& latents)> on_step;
  // Checked before each step; returning true stops the job with CancelledError.
  std::function<bool()> cancelled;
};

// A result with the resolved request's settings filled in (seed, size, steps, guidance, strength);
// images, sampler names, counts and timings are the caller's.
GenerationResult result_for(const ResolvedRequest& request);

// The denoising loop over a prepared state, the one every pipeline runs: the cancellation check
// before each step, `on_step` after it with the step counted from `done_before` out of `total`
// (the passes or models of one job share one count). Returns the UNet calls made.
int run_denoise_loop(SdModel& model, DenoiseState& state, const GenerateHooks& hooks, int done_before, int total);

// txt2img, img2img or inpaint; a txt2img request with `hires` runs generate_hires (hires_fix.h).
GenerationResult generate(SdModel& model, const GenerationRequest& request, const GenerateHooks& hooks = {},
                          const RequestLimits& limits = {});

// A1111 display name of the scheduler in use ("Euler a", "DPM++ 2M Karras", ...).
std::string sampler_display_name(const Scheduler& scheduler);
// A1111's "Schedule type" of a diffusers scheduler class where the sampler name alone does not say
// it: "Simple" for FlowMatchEulerDiscreteScheduler (SD3's "Euler"), "" otherwise.
std::string schedule_type_name(const std::string& scheduler_class);

}  // namespace sdw
