// Hires fix (see hires_fix.h).
#include "model/pipeline/hires_fix.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "model/image/generation_parameters.h"
#include "model/image/pil_resize.h"
#include "model/pipeline/sdxl_stages.h"

namespace sdw {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int hires_img2img_steps(int steps, double strength) {
  return static_cast<int>(steps / std::min(strength, 0.999));
}

ResolvedRequest hires_second_request(const SdModel& model, const ResolvedRequest& first, const RequestLimits& limits) {
  const HiresOptions& h = *first.request.hires;
  GenerationRequest r = first.request;
  r.hires.reset();
  r.mode = GenerationMode::img2img;
  r.init_image = {};
  r.mask_image = {};
  std::tie(r.width, r.height) = hires_target_size(h, first.request.width, first.request.height);
  if (h.prompt) r.prompt = *h.prompt;
  if (h.negative_prompt) r.negative_prompt = h.negative_prompt;
  r.strength = h.strength;
  r.steps = hires_img2img_steps(h.steps > 0 ? h.steps : first.request.steps, h.strength);
  r.guidance = first.guidance;
  r.seed = first.seed;
  // ControlNets: the control images as sent, resized (and preprocessed) again at the target size
  // by resolve_request, as sd-webui-controlnet prepares its hires-fix hint.
  for (ControlNetUse& c : r.controlnets) {
    if (c.source.pixels.empty()) continue;  // (never resolved: its image is as sent)
    c.image = c.source;
    c.preprocessed = false;
  }
  try {
    return resolve_request(model, std::move(r), limits);
  } catch (const RequestError& e) {
    throw RequestError(std::string("hires: ") + e.what());
  }
}

HiresRequests resolve_hires(const SdModel& model, GenerationRequest request, const RequestLimits& limits) {
  if (!request.hires) throw RequestError("hires: no hires settings");
  const HiresOptions h = *request.hires;
  if (request.mode != GenerationMode::txt2img) throw RequestError("hires: hires fix is for txt2img requests only");
  if (model.is_sd3()) throw RequestError("hires: hires fix runs on SD1.x/2.x and SDXL models, not " + model.family);
  if (request.num_images != 1) throw RequestError("hires: hires fix makes one image per request");
  if (request.denoising_end || request.refiner_start) throw RequestError("hires: not with a refiner hand-off");
  if (h.width == 0 && h.height == 0 && (!std::isfinite(h.scale) || h.scale <= 1 || h.scale > 4))
    throw RequestError("hires: scale must be greater than 1 and at most 4, got " + format_number(h.scale));
  if (h.width < 0 || h.height < 0) throw RequestError("hires: the resize width and height must be >= 0");
  if (!std::isfinite(h.strength) || h.strength <= 0 || h.strength > 1)
    throw RequestError("hires: strength must be greater than 0 and at most 1, got " + format_number(h.strength));
  if (h.steps < 0 || h.steps > limits.max_steps)
    throw RequestError("hires: steps must be between 0 and " + std::to_string(limits.max_steps));
  request.hires.reset();
  HiresRequests out;
  out.first = resolve_request(model, std::move(request), limits);
  out.first.request.hires = h;
  const auto [w, hgt] = hires_target_size(h, out.first.request.width, out.first.request.height);
  if (w % 8 != 0 || hgt % 8 != 0)
    throw RequestError("hires: the target size " + std::to_string(w) + "x" + std::to_string(hgt) +
                       " must be a multiple of 8 on each side");
  out.second = hires_second_request(model, out.first, limits);
  return out;
}

at::Tensor upscale_latents(const at::Tensor& latents, int64_t height, int64_t width, HiresUpscaler upscaler) {
  c10::InferenceMode guard;
  if (upscaler == HiresUpscaler::latent_nearest) return at::upsample_nearest2d(latents, {height, width});
  if (upscaler != HiresUpscaler::latent) throw RequestError("hires: not a latent upscaler");
  // [N, C, h, w] -> [N, C, height, width]; fp16 on the CPU is done in fp32.
  const bool half_cpu = latents.device().is_cpu() && latents.scalar_type() != at::kFloat;
  at::Tensor x = half_cpu ? latents.to(at::kFloat) : latents;
  at::Tensor y = at::upsample_bilinear2d(x, {height, width}, /*align_corners=*/false);
  return half_cpu ? y.to(latents.scalar_type()) : y;
}

Image hires_upscaled_image(SdModel& model, const ResolvedRequest& second, const at::Tensor& first_latents) {
  const Image first = to_images(decode_latents(model, first_latents)).at(0);
  return resize_lanczos_pil(first, second.request.width, second.request.height);
}

DenoiseState prepare_hires_pass(SdModel& model, const ResolvedRequest& second, HiresUpscaler upscaler,
                                const at::Tensor& first_latents) {
  PrepareOverrides o;
  if (upscaler == HiresUpscaler::lanczos) {
    o.image = image_to_tensor(hires_upscaled_image(model, second, first_latents));  // [1, 3, H, W]
  } else {
    const int64_t f = model.vae_scale_factor();
    o.init_latents = upscale_latents(first_latents, second.request.height / f, second.request.width / f, upscaler);
  }
  PromptEmbeddings prompt = encode_prompt(model, second);
  return prepare_denoise(model, second, std::move(prompt), o);
}

int64_t hires_step_count(const SdModel& model, const ResolvedRequest& second) {
  c10::InferenceMode guard;
  auto s = second.scheduler_name.empty() ? make_scheduler(model.scheduler_config)
                                         : make_scheduler(second.scheduler_name, model.scheduler_config);
  const int steps = second.request.steps;
  const double strength = second.request.strength.value_or(1.0);
  s->set_timesteps(steps);
  return model.is_sdxl() ? sdxl_img2img_timesteps(*s, steps, strength, std::nullopt).size(0)
                         : img2img_timesteps(*s, steps, strength).first.size(0);
}

GenerationResult generate_hires(SdModel& model, const GenerationRequest& request, const GenerateHooks& hooks,
                                const RequestLimits& limits) {
  const auto t_start = std::chrono::steady_clock::now();
  const HiresRequests hr = resolve_hires(model, request, limits);
  const HiresUpscaler upscaler = hr.first.request.hires->upscaler;
  GenerationResult result = result_for(hr.first);

  auto t0 = std::chrono::steady_clock::now();
  PromptEmbeddings prompt = encode_prompt(model, hr.first);
  result.timings.encode_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  DenoiseState first = prepare_denoise(model, hr.first, std::move(prompt));
  result.scheduler = first.scheduler->class_name();
  result.sampler_name = sampler_display_name(*first.scheduler);
  const int total = static_cast<int>(first.total() + hires_step_count(model, hr.second));
  result.unet_calls = run_denoise_loop(model, first, hooks, 0, total);
  DenoiseState second = prepare_hires_pass(model, hr.second, upscaler, first.latents);
  result.unet_calls += run_denoise_loop(model, second, hooks, result.unet_calls, total);
  result.timings.denoise_ms = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  result.images = to_images(decode_latents(model, second.latents));
  result.timings.decode_ms = ms_since(t0);
  result.timings.total_ms = ms_since(t_start);
  return result;
}

std::vector<std::pair<std::string, std::string>> hires_infotext(const HiresOptions& h, const GenerationRequest& request) {
  std::vector<std::pair<std::string, std::string>> out;
  if (h.width == 0 && h.height == 0)
    out.emplace_back("Hires upscale", format_number(h.scale));
  else
    out.emplace_back("Hires resize", std::to_string(h.width) + "x" + std::to_string(h.height));
  if (h.steps > 0) out.emplace_back("Hires steps", std::to_string(h.steps));
  out.emplace_back("Hires upscaler", hires_upscaler_name(h.upscaler));
  if (h.prompt && *h.prompt != request.prompt) out.emplace_back("Hires prompt", *h.prompt);
  if (h.negative_prompt && *h.negative_prompt != request.negative_prompt.value_or(""))
    out.emplace_back("Hires negative prompt", *h.negative_prompt);
  return out;
}

}  // namespace sdw
