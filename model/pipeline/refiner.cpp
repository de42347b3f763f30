// Base + refiner hand-off (see refiner.h).
#include "model/pipeline/refiner.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>

#include "model/pipeline/sdxl_stages.h"

namespace sdw {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

ResolvedRequest refiner_request(const SdModel& refiner, const ResolvedRequest& base, double start,
                                const RequestLimits& limits) {
  GenerationRequest r = base.request;
  r.mode = GenerationMode::img2img;
  r.init_image = {};
  r.mask_image = {};
  r.loras.clear();
  r.controlnets.clear();  // the base's ControlNets steer the base's part only (refiner: StableDiffusionXLImg2ImgPipeline)
  r.guess_mode = false;
  r.denoising_end.reset();
  r.refiner_start.reset();
  r.denoising_start = start;
  r.strength.reset();
  r.clip_skip = 1;  // the base's text encoders' layer count says nothing of the refiner's
  r.guidance = base.guidance;
  r.seed = base.seed;
  return resolve_request(refiner, std::move(r), limits);
}

DenoiseState prepare_refiner(SdModel& refiner, const ResolvedRequest& refiner_req, PromptEmbeddings prompt,
                             const DenoiseState& base_state) {
  PrepareOverrides o;
  o.init_latents = base_state.latents;
  DenoiseState s = prepare_denoise(refiner, refiner_req, std::move(prompt), o);
  s.generator = base_state.generator;  // prepare drew nothing: the base's stream continues
  return s;
}

HandoffRequests resolve_handoff(const SdModel& base, const SdModel& refiner, GenerationRequest request, double start,
                                const RequestLimits& limits) {
  if (!base.is_sdxl() || !refiner.is_sdxl())
    throw RequestError("refiner: a refiner hand-off needs SDXL models (base: " + base.family + ", refiner: " +
                       refiner.family + ")");
  if (!std::isfinite(start) || start <= 0 || start >= 1)
    throw RequestError("refiner_start: the refiner start must be between 0 and 1 (exclusive), got " + std::to_string(start));
  if (request.mode == GenerationMode::inpaint) throw RequestError("refiner: a refiner hand-off after inpainting is not supported");
  request.denoising_end = start;
  request.refiner_start = start;
  HandoffRequests out;
  out.base = resolve_request(base, std::move(request), limits);
  out.refiner = refiner_request(refiner, out.base, start, limits);
  return out;
}

int64_t refiner_step_count(const SdModel& refiner, const ResolvedRequest& rr) {
  c10::InferenceMode guard;
  auto probe = rr.scheduler_name.empty() ? make_scheduler(refiner.scheduler_config)
                                         : make_scheduler(rr.scheduler_name, refiner.scheduler_config);
  return sdxl_img2img_timesteps(*probe, rr.request.steps, 1.0, rr.request.denoising_start.value_or(1.0)).size(0);
}

GenerationResult generate_with_refiner(SdModel& base, SdModel& refiner, const GenerationRequest& request, double start,
                                       const GenerateHooks& hooks, const RequestLimits& limits) {
  const auto t_start = std::chrono::steady_clock::now();
  const HandoffRequests handoff = resolve_handoff(base, refiner, request, start, limits);
  const ResolvedRequest& rb = handoff.base;
  const ResolvedRequest& rr = handoff.refiner;
  GenerationResult result = result_for(rb);

  auto t0 = std::chrono::steady_clock::now();
  PromptEmbeddings base_prompt = encode_prompt(base, rb);
  result.timings.encode_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  DenoiseState bs = prepare_denoise(base, rb, std::move(base_prompt));
  result.scheduler = bs.scheduler->class_name();
  result.sampler_name = sampler_display_name(*bs.scheduler);
  // The refiner's timesteps are known before the base runs: the progress total covers both.
  const int total = static_cast<int>(bs.total() + refiner_step_count(refiner, rr));
  result.unet_calls = run_denoise_loop(base, bs, hooks, 0, total);
  const double base_denoise_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  PromptEmbeddings refiner_prompt = encode_prompt(refiner, rr);
  result.timings.encode_ms += ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  DenoiseState rs = prepare_refiner(refiner, rr, std::move(refiner_prompt), bs);
  result.unet_calls += run_denoise_loop(refiner, rs, hooks, result.unet_calls, total);
  result.timings.denoise_ms = base_denoise_ms + ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  result.images = to_images(decode_latents(refiner, rs.latents));
  result.timings.decode_ms = ms_since(t0);
  result.timings.total_ms = ms_since(t_start);
  return result;
}

}  // namespace sdw
