// A1111's "hires fix" as the composition it is defined as: a txt2img pass at the request's size,
// an upscale of its result (A1111's latent upscale: F.interpolate bilinear or nearest with
// antialias off; or the decoded image resized with Pillow's Lanczos), then an img2img pass at the
// target size with the hires strength, steps and prompts, from a generator seeded again with the
// job's seed (A1111 draws the second pass's noise from the same seeds). One job: progress counts
// both passes, one final image. Both passes are the ordinary stages (prepare_denoise,
// run_denoise_loop); the served worker's denoiser runs the same prepare_hires_pass.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/pipeline/generate.h"

namespace sdw {

// The second pass's img2img steps, A1111's setup_img2img_steps (img2img_fix_steps off):
// int(steps / min(strength, 0.999)), so that about `steps` run once the strength cuts the schedule.
int hires_img2img_steps(int steps, double strength);

// A hires job's two requests: the first pass (txt2img at the request's size; its request keeps
// `hires`, which is how the actors carry it) and the second (hires_second_request). Throws
// RequestError naming the `hires` field at fault.
struct HiresRequests {
  ResolvedRequest first, second;
};
HiresRequests resolve_hires(const SdModel& model, GenerationRequest request, const RequestLimits& limits = {});

// The second pass's request from the resolved first: img2img at the target size without an image
// (prepare_hires_pass gives it its start), the hires prompts (or the first's), strength and steps,
// the same seed, scheduler, guidance, LoRAs, and ControlNets (their control images as sent, resized
// and preprocessed again at the target size).
ResolvedRequest hires_second_request(const SdModel& model, const ResolvedRequest& first, const RequestLimits& limits = {});

// A1111's latent upscale: torch.nn.functional.interpolate(latents [N, C, h, w], size=(height,
// width), mode="bilinear" (align_corners False) or "nearest", antialias=False).
at::Tensor upscale_latents(const at::Tensor& latents, int64_t height, int64_t width, HiresUpscaler upscaler);

// The first pass's image upscaled for a Lanczos second pass: decoded, to 8 bits, resized with
// Pillow's Lanczos to the second request's size.
Image hires_upscaled_image(SdModel& model, const ResolvedRequest& second, const at::Tensor& first_latents);

// The second pass's denoising state from the first's final latents: latent upscalers interpolate
// them and img2img noises them at its first timestep; Lanczos upscales the decoded image and
// img2img encodes it. The second prompt is encoded here.
DenoiseState prepare_hires_pass(SdModel& model, const ResolvedRequest& second, HiresUpscaler upscaler,
                                const at::Tensor& first_latents);

// How many steps the second pass will run (known before the first runs, for progress totals).
int64_t hires_step_count(const SdModel& model, const ResolvedRequest& second);

// One hires job: both passes, the second's image. The result's size and steps are the first
// pass's (A1111's infotext: "Size" is the first pass's, the hires fields follow).
GenerationResult generate_hires(SdModel& model, const GenerationRequest& request, const GenerateHooks& hooks = {},
                                const RequestLimits& limits = {});

// A1111's infotext fields for hires fix, in its order: "Hires upscale" (or "Hires resize"),
// "Hires steps" (when given), "Hires upscaler", "Hires prompt" / "Hires negative prompt" (when
// they differ from the request's).
std::vector<std::pair<std::string, std::string>> hires_infotext(const HiresOptions& hires, const GenerationRequest& request);

}  // namespace sdw
