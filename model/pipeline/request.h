// What a caller asks of a pipeline (txt2img, img2img, inpaint) and what it gets back.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/image/image_io.h"
#include "model/lora/lora_use.h"
#include "model/pipeline/hires_options.h"
#include "model/pipeline/control_use.h"
#include "model/pipeline/speed_options.h"

namespace sdw {

// Invalid request values (out of range, missing image, ...): the message names the field.
class RequestError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class GenerationMode { txt2img, img2img, inpaint };
const char* mode_name(GenerationMode mode);

// Where inpainting's masked area starts (AUTOMATIC1111's "masked content", its inpainting_fill 0-3):
//   original        the init image there, noised (diffusers' inpaint pipelines; A1111's 1);
//   fill            the init image with its masked area painted first with the colours around it
//                   (model/image/mask_fill.h; A1111's 0);
//   latent_noise    the encoded image with its masked area replaced by the job's initial noise, then
//                   noised to the first step (A1111's 2);
//   latent_nothing  the same with zeros in the masked area (A1111's 3).
// The masked area is the mask at latent size (as the step's blending uses it). At strength 1 every
// start is pure noise, so the four agree.
// (The values are A1111's inpainting_fill numbers, 0 to 3.)
enum class InpaintFill { fill = 0, original = 1, latent_noise = 2, latent_nothing = 3 };
// "fill", "original", "latent_noise", "latent_nothing"; parse: nullopt for another word.
const char* inpaint_fill_name(InpaintFill fill);
std::optional<InpaintFill> parse_inpaint_fill(const std::string& name);

// How the prompt text is read: diffusers' (plain text, cut after 75 tokens) or AUTOMATIC1111's
// (attention weights, escapes, BREAK, 75-token chunks; model/pipeline/a1111_conditioning.h).
enum class PromptSyntax { diffusers, a1111 };

struct GenerationRequest {
  GenerationMode mode = GenerationMode::txt2img;
  std::string prompt;
  std::optional<std::string> negative_prompt;  // nullopt: not given ("" is used with CFG)
  int width = 0;                                // 0: the model's default (img2img: the image's size)
  int height = 0;
  int steps = 0;                  // 0: the model's default
  std::optional<double> guidance; // nullopt: the model's default; <= 1 disables CFG
  std::optional<uint64_t> seed;   // nullopt: a random seed, reported in the result
  std::string scheduler;          // "": the model's own scheduler
  int clip_skip = 1;              // A1111 numbering: 1 = last layer
  // img2img / inpaint; nullopt: the pipeline's default (SD 0.8; SDXL as diffusers: img2img 0.3,
  // inpaint 0.9999, which starts from the noised init image rather than pure noise).
  std::optional<double> strength;
  double eta = 0.0;               // DDIM's η (diffusers' `eta`): 0 deterministic; other schedulers ignore it
  int num_images = 1;
  Image init_image;   // img2img / inpaint
  Image mask_image;   // inpaint: white = repaint
  InpaintFill inpaint_fill = InpaintFill::original;  // inpaint: where the masked area starts
  // LoRAs fused into the model for this request, in order (files already resolved; see
  // model/pipeline/model_loras.h). Text-encoder parts apply before the prompt is encoded.
  std::vector<LoraUse> loras;
  // ControlNets (txt2img, SD1.x/2.x; model/pipeline/controlnet_stage.h), several = diffusers'
  // MultiControlNet (residuals summed); guess_mode as diffusers' (only the conditional batch gets
  // the residuals, scaled by logspace(-1, 0)).
  std::vector<ControlNetUse> controlnets;
  bool guess_mode = false;
  // SDXL only (diffusers' StableDiffusionXL{,Img2Img}Pipeline): stop after this fraction of the
  // schedule and return the noisy latents (`denoising_end`, the base of a base + refiner pair), or
  // start at it from given latents (`denoising_start`, img2img: the refiner). Each in (0, 1).
  std::optional<double> denoising_start;
  std::optional<double> denoising_end;
  // SDXL UNets trained with an aesthetic score in their time ids (the refiner's
  // requires_aesthetics_score): the score of the prompt row and of the negative row.
  double aesthetic_score = 6.0;
  double negative_aesthetic_score = 2.5;
  // SDXL base + refiner as one job (a served worker's refiner, refiner.h): the fraction of the
  // schedule the base runs before the refiner takes its latents (diffusers' denoising_end /
  // denoising_start); nullopt: no refiner.
  std::optional<double> refiner_start;
  // txt2img only: A1111's hires fix (model/pipeline/hires_fix.h), a second img2img pass at a larger
  // size on the upscaled first result, in the same job; nullopt: none.
  std::optional<HiresOptions> hires;
  // SD3 only (diffusers' StableDiffusion3Pipeline): T5's token count (0: the model's default, 256
  // unless the worker was started with another; at most 512), and false to leave T5 out for this
  // request (its prompt part is zeros, as a model without T5); nullopt: T5 when the model has it,
  // true: T5 required (refused when the model was loaded without it). Either given to a model of
  // another family is refused (resolve_request), not ignored.
  int max_sequence_length = 0;
  std::optional<bool> t5;
  // VAE tiling for this job's decode and encode (diffusers' enable_vae_tiling with the worker's tile
  // settings, model/pipeline/vae_memory.h); nullopt: the worker's --vae-tiling, else tiled only
  // when the plain pass would not fit the device's free memory.
  std::optional<bool> vae_tiling;
  // DeepCache and token merging for this job (speed_options.h, speed_use.h); nullopt: the worker's.
  std::optional<DeepCacheOptions> deepcache;
  std::optional<TomeOptions> tome;
  // The A1111 API's requests (and generate --prompt-syntax a1111) read prompts as A1111 does.
  PromptSyntax prompt_syntax = PromptSyntax::diffusers;
};

// Limits a request is checked against (the server sets its own).
struct RequestLimits {
  int max_steps = 150;
  int max_side = 2048;
  int min_side = 8;
  int max_images = 8;
  int64_t max_pixels = 2048ll * 2048ll;
  double max_guidance = 30.0;
  int max_loras = 16;
  int max_controlnets = 4;
};

// The request after defaults were applied and values checked.
struct ResolvedRequest {
  GenerationRequest request;  // width/height/steps/guidance/seed all set
  double guidance = 7.5;
  uint64_t seed = 0;
  std::string scheduler_name;  // canonical short name, or "" for the model's own
};

// Every field of a request, in order, handed to `f` (a serialiser: the actors' CAF `inspect`): a
// new field is added to its struct and to this list, next to each other.
template <class F>
decltype(auto) request_fields(GenerationRequest& x, F&& f) {
  return f(x.mode, x.prompt, x.negative_prompt, x.width, x.height, x.steps, x.guidance, x.seed, x.scheduler,
           x.clip_skip, x.strength, x.eta, x.num_images, x.init_image, x.mask_image, x.loras, x.denoising_start,
           x.denoising_end, x.refiner_start, x.hires, x.aesthetic_score, x.negative_aesthetic_score, x.max_sequence_length, x.t5,
           x.prompt_syntax, x.controlnets, x.guess_mode, x.vae_tiling, x.deepcache, x.tome);
}
template <class F>
decltype(auto) request_fields(ResolvedRequest& x, F&& f) {
  return f(x.request, x.guidance, x.seed, x.scheduler_name);
}

// A copy of `r` without its init and mask images (the stages that read only the prompt and the
// settings get this one; the pixels are moved, never copied).
ResolvedRequest without_images(ResolvedRequest& r);

struct GenerationTimings {
  double encode_ms = 0, denoise_ms = 0, decode_ms = 0, total_ms = 0;
};

struct GenerationResult {
  std::vector<Image> images;  // RGB, width x height
  uint64_t seed = 0;
  int width = 0, height = 0, steps = 0, unet_calls = 0;
  double guidance = 0;
  std::optional<double> strength;  // img2img / inpaint: the strength in effect (the model's default if not asked)
  std::string scheduler;       // diffusers class name actually used
  std::string sampler_name;    // A1111 display name
  GenerationTimings timings;
  // The A1111 "parameters" text for image k's PNG.
  std::string parameters_text(const std::string& model_name, const GenerationRequest& request) const;
};

}  // namespace sdw
