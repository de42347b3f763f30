// SDXL base + refiner hand-off (diffusers' "ensemble of expert denoisers"): the base runs the
// schedule down to `denoising_end`, the refiner (an SDXL img2img model, often with text_encoder_2
// only and aesthetic-score time ids) takes the base's latents unchanged and runs the rest from
// `denoising_start` = the same fraction, with the same steps, scheduler, guidance and generator.
#pragma once

#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"

namespace sdw {

// The refiner's request: the base's resolved settings (prompt, negative, size, steps, guidance,
// scheduler, seed) as img2img starting at `start`, without images (the latents are handed over)
// and without the base's LoRAs (they belong to the base's weights). Checked against the refiner.
ResolvedRequest refiner_request(const SdModel& refiner, const ResolvedRequest& base, double start,
                                const RequestLimits& limits = {});

// The refiner's denoising state from the base's finished one: the base latents as they are
// (no VAE round trip, no noise), and the base's generator, so that stochastic schedulers continue
// its draws as diffusers does when one generator serves both calls.
DenoiseState prepare_refiner(SdModel& refiner, const ResolvedRequest& refiner_req, PromptEmbeddings prompt,
                             const DenoiseState& base_state);

// A hand-off job's two requests: the base's (denoising_end = start, refiner_start = start) and
// the refiner's (refiner_request). Throws RequestError for non-SDXL models, inpainting, or a
// `start` outside (0, 1); the served worker validates its jobs with this before queueing them.
struct HandoffRequests {
  ResolvedRequest base, refiner;
};
HandoffRequests resolve_handoff(const SdModel& base, const SdModel& refiner, GenerationRequest request, double start,
                                const RequestLimits& limits = {});

// How many steps the refiner will run for its request (known before the base runs, so that
// progress can count both models' steps).
int64_t refiner_step_count(const SdModel& refiner, const ResolvedRequest& refiner_req);

// One hand-off generation: txt2img or img2img on `base` to `start`, the rest on `refiner`, decoded
// by the refiner's VAE. Steps are reported over both models (total = base + refiner timesteps).
// Throws RequestError for non-SDXL models, inpainting, or a `start` outside (0, 1).
GenerationResult generate_with_refiner(SdModel& base, SdModel& refiner, const GenerationRequest& request, double start,
                                       const GenerateHooks& hooks = {}, const RequestLimits& limits = {});

}  // namespace sdw
