// One whole generation (see generate.h).
#include "model/pipeline/generate.h"

#include <chrono>
#include <filesystem>

#include "model/image/generation_parameters.h"
#include "model/lora/lora_file.h"
#include "model/lora/lora_hash.h"
#include "model/pipeline/vae_memory.h"
#include "model/pipeline/hires_fix.h"

namespace sdw {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string sampler_display_name(const Scheduler& scheduler) {
  const std::string cls = scheduler.class_name();
  const auto cfg = scheduler.config();
  const bool karras = cfg.value("use_karras_sigmas", false);
  if (cls == "DDIMScheduler") return "DDIM";
  if (cls == "PNDMScheduler") return "PLMS";
  if (cls == "DDPMScheduler") return "DDPM";
  if (cls == "EulerDiscreteScheduler") return karras ? "Euler Karras" : "Euler";
  if (cls == "EulerAncestralDiscreteScheduler") return "Euler a";
  if (cls == "DPMSolverMultistepScheduler") return karras ? "DPM++ 2M Karras" : "DPM++ 2M";
  if (cls == "HeunDiscreteScheduler") return "Heun";
  if (cls == "LCMScheduler") return "LCM";
  if (cls == "UniPCMultistepScheduler") return "UniPC";
  // SD3's flow-matching Euler: A1111 names it Euler on a flow model (see schedule_type_name).
  if (cls == "FlowMatchEulerDiscreteScheduler") return "Euler";
  return cls;
}

std::string schedule_type_name(const std::string& scheduler_class) {
  // diffusers' schedule for flow matching (linspace in t, then shifted) is A1111's "Simple": the
  // model's own shifted sigmas, evenly spaced in t.
  return scheduler_class == "FlowMatchEulerDiscreteScheduler" ? "Simple" : "";
}

std::string GenerationResult::parameters_text(const std::string& model_name, const GenerationRequest& request) const {
  GenerationParameters p;
  p.prompt = request.prompt;
  p.negative_prompt = request.negative_prompt.value_or("");
  p.steps = steps;
  p.sampler = sampler_name;
  p.schedule_type = schedule_type_name(scheduler);
  p.cfg_scale = guidance;
  p.seed = static_cast<int64_t>(seed);
  p.width = width;
  p.height = height;
  p.model = model_name;
  if (request.clip_skip > 1) p.clip_skip = request.clip_skip;
  if (request.mode != GenerationMode::txt2img) p.denoising_strength = request.strength ? request.strength : strength;
  std::vector<std::pair<std::string, std::string>> hashes;  // A1111: the name as mentioned; here the file's stem
  for (const LoraUse& l : request.loras) {
    try {
      hashes.emplace_back(std::filesystem::path(l.path).stem().string(), lora_short_hash(l.path));
    } catch (const LoraError&) {  // gone since the job ran: no hash to record
    }
  }
  p.lora_hashes = a1111_lora_hashes(hashes);
  if (request.hires) {
    p.denoising_strength = request.hires->strength;
    p.hires = hires_infotext(*request.hires, request);
  }
  for (const ControlNetUse& c : request.controlnets)
    p.controlnets.push_back(a1111_controlnet_unit(c.preprocess, c.name.empty() ? std::filesystem::path(c.path).filename().string() : c.name,
                                                  c.scale, c.start, c.end, request.guess_mode));
  return a1111_parameters(p);
}

GenerationResult result_for(const ResolvedRequest& req) {
  GenerationResult result;
  result.seed = req.seed;
  result.width = req.request.width;
  result.height = req.request.height;
  result.steps = req.request.steps;
  result.guidance = req.guidance;
  result.strength = req.request.strength;
  return result;
}

int run_denoise_loop(SdModel& model, DenoiseState& state, const GenerateHooks& hooks, int done_before, int total) {
  int calls = 0;
  while (!state.done()) {
    if (hooks.cancelled && hooks.cancelled()) throw CancelledError();
    denoise_step(model, state);
    ++calls;
    if (hooks.on_step) hooks.on_step(done_before + calls, total, state.latents);
  }
  return calls;
}

GenerationResult generate(SdModel& model, const GenerationRequest& request, const GenerateHooks& hooks,
                          const RequestLimits& limits) {
  VaeTilingScope vae_tiling(model, request.vae_tiling);  // the job's choice for every decode/encode
  if (request.hires) return generate_hires(model, request, hooks, limits);
  const auto t_start = std::chrono::steady_clock::now();
  ResolvedRequest req = resolve_request(model, request, limits);
  GenerationResult result = result_for(req);

  auto t0 = std::chrono::steady_clock::now();
  PromptEmbeddings prompt = encode_prompt(model, req);
  result.timings.encode_ms = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  DenoiseState state = prepare_denoise(model, req, std::move(prompt));
  result.scheduler = state.scheduler->class_name();
  result.sampler_name = sampler_display_name(*state.scheduler);
  result.unet_calls = run_denoise_loop(model, state, hooks, 0, static_cast<int>(state.total()));
  result.timings.denoise_ms = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  result.images = to_images(decode_latents(model, state.latents));
  result.timings.decode_ms = ms_since(t0);
  result.timings.total_ms = ms_since(t_start);
  return result;
}

}  // namespace sdw
