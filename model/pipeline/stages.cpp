// Pipeline stages (see stages.h). Follows diffusers 0.30's StableDiffusionPipeline,
// StableDiffusionImg2ImgPipeline, StableDiffusionInpaintPipeline and (txt2img)
// StableDiffusionXL{,Img2Img,Inpaint}Pipeline (SDXL-only parts in sdxl_stages.h), including the
// order of random draws, so a seed gives the image diffusers gives.
#include "model/pipeline/stages.h"

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/embeddings/prompt_tokens.h"
#include "model/image/mask_fill.h"
#include "model/image/pil_resize.h"
#include "model/nn/cpu_allocator.h"
#include "model/pipeline/a1111_conditioning.h"
#include "model/pipeline/model_loras.h"
#include "model/pipeline/offload.h"
#include "model/pipeline/rng.h"
#include "model/pipeline/sd3_stages.h"
#include "model/pipeline/sdxl_stages.h"
#include "model/pipeline/taesd_use.h"

namespace sdw {
namespace {

int round_down_to(int v, int multiple) { return v - v % multiple; }

void check_size(const char* field, int v, const RequestLimits& limits) {
  if (v < limits.min_side || v > limits.max_side)
    throw RequestError(std::string(field) + " must be between " + std::to_string(limits.min_side) + " and " +
                       std::to_string(limits.max_side) + ", got " + std::to_string(v));
  if (v % 8 != 0) throw RequestError(std::string(field) + " must be a multiple of 8, got " + std::to_string(v));
}

// diffusers' VaeImageProcessor: PIL's Lanczos resize, only when the size differs.
Image fit_image(const Image& image, int width, int height) {
  Image rgb = to_rgb(image);
  if (rgb.width == width && rgb.height == height) return rgb;
  return resize_lanczos_pil(rgb, width, height);
}

// Posterior sample of the VAE encoding, scaled: scaling_factor * (mean + std * eps).
at::Tensor encode_image_latents(SdModel& model, const at::Tensor& image, at::Generator& gen) {
  if (model.taesd_final) return taesd_encode_latents(model, image);  // no posterior: no draw (diffusers' .latents)
  use_part(model, ModelPart::vae);
  LatentDistribution d = model.vae->encode(image.to(model.device, model.vae_activation_dtype()));
  at::Tensor eps = randn_like_diffusers(d.mean.sizes(), gen, d.mean.options());
  return (d.sample(eps) * model.vae->config().scaling_factor).to(model.activation_dtype());
}

// The clean latents inpainting noises to its first step (InpaintFill, request.h): the encoded
// image, with its masked area (`mask` [1, 1, h, w], 1 = repaint) as the fill asks.
at::Tensor inpaint_start(const at::Tensor& image_latents, const at::Tensor& noise, const at::Tensor& mask, InpaintFill fill) {
  if (fill == InpaintFill::latent_nothing) return image_latents * (1 - mask);              // [N, 4, h, w]
  if (fill == InpaintFill::latent_noise) return image_latents * (1 - mask) + noise * mask;  // [N, 4, h, w]
  return image_latents;
}

}  // namespace

const char* mode_name(GenerationMode mode) {
  switch (mode) {
    case GenerationMode::txt2img: return "txt2img";
    case GenerationMode::img2img: return "img2img";
    case GenerationMode::inpaint: return "inpaint";
  }
  return "?";
}

ResolvedRequest without_images(ResolvedRequest& r) {
  Image init = std::move(r.request.init_image), mask = std::move(r.request.mask_image);
  ResolvedRequest out = r;
  r.request.init_image = std::move(init);
  r.request.mask_image = std::move(mask);
  return out;
}

ResolvedRequest resolve_request(const SdModel& model, GenerationRequest in, const RequestLimits& limits) {
  ResolvedRequest out;
  out.request = std::move(in);
  GenerationRequest& r = out.request;
  if (model.is_sd3())
    check_sd3_request(model, r);
  else
    refuse_sd3_fields(model, r);
  // A1111 reads "" as a prompt (its empty chunk); the diffusers reading needs text.
  if (r.prompt.empty() && r.prompt_syntax != PromptSyntax::a1111) throw RequestError("prompt must not be empty");
  if (r.prompt.size() > 20000) throw RequestError("prompt is longer than 20000 bytes");
  if (r.negative_prompt && r.negative_prompt->size() > 20000) throw RequestError("negative_prompt is longer than 20000 bytes");
  if (r.steps == 0) r.steps = model.default_steps;
  if (r.steps < 1 || r.steps > limits.max_steps)
    throw RequestError("steps must be between 1 and " + std::to_string(limits.max_steps) + ", got " + std::to_string(r.steps));
  out.guidance = r.guidance.value_or(model.default_guidance);
  if (!std::isfinite(out.guidance) || out.guidance < 0 || out.guidance > limits.max_guidance)
    throw RequestError("guidance_scale must be between 0 and " + std::to_string(static_cast<int>(limits.max_guidance)));
  r.guidance = out.guidance;
  if (!std::isfinite(r.eta) || r.eta < 0 || r.eta > 1) throw RequestError("eta must be between 0 and 1");
  if (r.num_images < 1 || r.num_images > limits.max_images)
    throw RequestError("num_images must be between 1 and " + std::to_string(limits.max_images));
  const CLIPTextModel& first_encoder = model.text_encoder.is_empty() ? model.text_encoder_2 : model.text_encoder;
  const int layers = static_cast<int>(first_encoder->config().num_hidden_layers);
  if (r.clip_skip < 1 || r.clip_skip > layers)
    throw RequestError("clip_skip must be between 1 and " + std::to_string(layers) + " for this model");
  check_sdxl_fields(model, r);
  // A refiner's img2img (denoising_start) may start from the base model's latents instead of an
  // image, and hires fix's second pass from upscaled latents or an image it makes itself: then the
  // caller passes them to prepare_denoise and sets width and height.
  const bool latents_in = (r.denoising_start || r.mode == GenerationMode::img2img) && r.init_image.pixels.empty() &&
                          r.width > 0 && r.height > 0;
  if (r.mode != GenerationMode::txt2img) {
    if (r.init_image.pixels.empty() && !latents_in) throw RequestError(std::string(mode_name(r.mode)) + " needs an init image");
    if (!r.strength) r.strength = default_strength(model, r.mode);
    const double strength = *r.strength;
    if (!std::isfinite(strength) || strength <= 0 || strength > 1)
      throw RequestError("strength must be in (0, 1], got " + std::to_string(strength));
    if (static_cast<int>(r.steps * strength) < 1 && !r.denoising_start)
      throw RequestError("strength " + std::to_string(strength) + " with " + std::to_string(r.steps) +
                         " steps leaves no denoising step; raise steps or strength");
    // Default size: the init image's, rounded down to a multiple of 8.
    if (r.width == 0) r.width = round_down_to(r.init_image.width, 8);
    if (r.height == 0) r.height = round_down_to(r.init_image.height, 8);
  }
  if (r.mode == GenerationMode::inpaint && r.mask_image.pixels.empty()) throw RequestError("inpaint needs a mask image");
  if (r.mode != GenerationMode::inpaint && r.inpaint_fill != InpaintFill::original)
    throw RequestError(std::string("inpaint_fill '") + inpaint_fill_name(r.inpaint_fill) + "' applies to inpainting only");
  if (r.mode == GenerationMode::txt2img && !r.controlnets.empty()) {
    // ControlNet txt2img's default size: the first control image's, rounded down to a multiple of 8.
    const Image& control = r.controlnets.front().image;
    if (r.width == 0 && control.width >= 8) r.width = round_down_to(control.width, 8);
    if (r.height == 0 && control.height >= 8) r.height = round_down_to(control.height, 8);
  }
  if (r.width == 0) r.width = model.default_width;
  if (r.height == 0) r.height = model.default_height;
  check_size("width", r.width, limits);
  check_size("height", r.height, limits);
  if (static_cast<int64_t>(r.width) * r.height > limits.max_pixels)
    throw RequestError("width x height exceeds " + std::to_string(limits.max_pixels) + " pixels");
  if (r.width % model.vae_scale_factor() != 0 || r.height % model.vae_scale_factor() != 0)
    throw RequestError("width and height must be multiples of " + std::to_string(model.vae_scale_factor()));
  if (r.mode != GenerationMode::txt2img && !latents_in) r.init_image = fit_image(r.init_image, r.width, r.height);
  if (r.mode == GenerationMode::inpaint) {
    Image gray = to_gray(r.mask_image);
    // convert("L"), then the same Lanczos resize, before binarising (mask_to_tensor), as diffusers.
    r.mask_image = (gray.width == r.width && gray.height == r.height) ? gray : resize_lanczos_pil(gray, r.width, r.height);
  }
  if (static_cast<int>(r.loras.size()) > limits.max_loras)
    throw RequestError("loras: at most " + std::to_string(limits.max_loras) + " LoRAs per request");
  for (const LoraUse& l : r.loras) {
    if (l.path.empty()) throw RequestError("loras: a LoRA without a path");
    if (!std::isfinite(l.strength)) throw RequestError("loras: the strength of '" + l.path + "' is not a finite number");
  }
  check_request_loras(model, r.loras);
  check_request_controlnets(model, r, limits);
  out.seed = r.seed.value_or(random_seed());
  r.seed = out.seed;
  if (!r.scheduler.empty()) {
    try {
      out.scheduler_name = canonical_scheduler_name(r.scheduler);
    } catch (const SchedulerError& e) {
      throw RequestError(std::string("scheduler: ") + e.what());
    }
  }
  return out;
}

at::Tensor image_to_tensor(const Image& image) {
  Image rgb = to_rgb(image);
  at::Tensor t = at::from_blob(rgb.pixels.data(), {rgb.height, rgb.width, 3}, at::kByte).clone();  // [H, W, 3]
  t = t.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat) / 255.0;                                   // [1, 3, H, W]
  return t * 2.0 - 1.0;
}

at::Tensor mask_to_tensor(const Image& mask) {
  Image gray = to_gray(mask);
  at::Tensor t = at::from_blob(gray.pixels.data(), {1, 1, gray.height, gray.width}, at::kByte).clone();
  t = t.to(at::kFloat) / 255.0;
  return (t >= 0.5).to(at::kFloat);  // [1, 1, H, W], 1 = repaint
}

namespace {

// The embeddings of the --embeddings-dir folders that fit this model's text encoders.
EmbeddingSet usable_embeddings(const SdModel& model) {
  if (!model.embeddings || model.text_encoder.is_empty()) return {};  // (a refiner without text_encoder: none)
  return model.embeddings->usable(model.text_encoder->config().hidden_size,
                                  model.text_encoder_2 ? model.text_encoder_2->config().hidden_size : 0);
}

// diffusers' StableDiffusionXLPipeline.encode_prompt (prompt_2 = prompt, negative_prompt_2 =
// negative_prompt; a refiner without text_encoder: text_encoder_2 alone) and _get_add_time_ids
// (sdxl_time_ids: original = target = the request's size, crop (0, 0), or the aesthetic scores).
PromptEmbeddings encode_prompt_sdxl(SdModel& model, const ResolvedRequest& req, const EmbeddingSet& embeddings) {
  const auto& r = req.request;
  const int64_t n = r.num_images;
  // Hidden states [1, 77, 768 + 1280] and the pooled projection [1, 1280] of one text. `layer`:
  // how far from the end (2 = penultimate, diffusers' default; clip_skip k -> k + 1).
  auto encode = [&](const std::string& text, size_t layer) {
    std::vector<at::Tensor> states;
    at::Tensor pooled;
    for (int i = model.text_encoder.is_empty() ? 1 : 0; i < 2; ++i) {
      const ClipTokenizer& tok = i == 0 ? *model.tokenizer : *model.tokenizer_2;
      CLIPTextModel& te = i == 0 ? model.text_encoder : model.text_encoder_2;
      CLIPTextOutput out = encode_prompt_tokens(te, tokenize_prompt(tok, text, embeddings), i == 1, model.device);
      states.push_back(out.hidden_states[out.hidden_states.size() - layer]);  // no final_layer_norm
      if (i == 1) pooled = out.text_embeds;
    }
    return std::make_pair(at::cat(states, -1), pooled);
  };
  auto [cond, pooled] = encode(r.prompt, static_cast<size_t>(r.clip_skip) + 1);
  PromptEmbeddings p;
  p.cfg = req.guidance > 1.0;
  const auto dt = model.activation_dtype();
  const SdxlTimeIds ids = sdxl_time_ids(model, r);  // [1, 6] each ([1, 5] with aesthetic scores)
  cond = cond.to(dt).repeat({n, 1, 1});          // [N, 77, 2048]
  pooled = pooled.to(dt).repeat({n, 1});         // [N, 1280]
  if (!p.cfg) {
    p.context = cond;
    p.added = {pooled, ids.positive.repeat({n, 1})};
    return p;
  }
  at::Tensor uncond, uncond_pooled;
  if (!r.negative_prompt && model.force_zeros_for_empty_prompt) {
    uncond = at::zeros_like(cond);
    uncond_pooled = at::zeros_like(pooled);
  } else {
    auto [u, up] = encode(r.negative_prompt.value_or(""), 2);  // the negative ignores clip_skip, as diffusers
    uncond = u.to(dt).repeat({n, 1, 1});
    uncond_pooled = up.to(dt).repeat({n, 1});
  }
  p.context = at::cat({uncond, cond}, 0);                         // [2N, 77, 2048]: [negative, positive]
  p.added = {at::cat({uncond_pooled, pooled}, 0),
             at::cat({ids.negative.repeat({n, 1}), ids.positive.repeat({n, 1})}, 0)};  // [2N, 1280], [2N, 6]
  return p;
}

}  // namespace

PromptEmbeddings encode_prompt(SdModel& model, const ResolvedRequest& req) {
  use_part(model, ModelPart::text_encoders);
  if (model.is_sd3()) return sd3_encode_prompt(model, req);
  apply_request_loras(model, req.request.loras);  // the text encoders' LoRAs act on this prompt
  c10::InferenceMode guard;
  const EmbeddingSet embeddings = usable_embeddings(model);
  if (req.request.prompt_syntax == PromptSyntax::a1111) return encode_prompt_a1111(model, req, embeddings);
  if (model.is_sdxl()) return encode_prompt_sdxl(model, req, embeddings);
  const auto& r = req.request;
  const int64_t n = r.num_images;
  auto encode = [&](const std::string& text) {  // [1, 77, D] states
    return encode_prompt_tokens(model.text_encoder, tokenize_prompt(*model.tokenizer, text, embeddings), false, model.device);
  };
  CLIPTextOutput out = encode(r.prompt);
  at::Tensor cond = out.last_hidden_state;
  if (r.clip_skip > 1) {
    // diffusers clip_skip = k-1: final_layer_norm(hidden_states[-(k)]), applied to the prompt only.
    cond = model.text_encoder->text_model->final_layer_norm->forward(out.hidden_states[out.hidden_states.size() - r.clip_skip]);
  }
  cond = cond.to(model.activation_dtype()).repeat({n, 1, 1});  // [N, 77, D]
  PromptEmbeddings p;
  p.cfg = req.guidance > 1.0;
  if (!p.cfg) {
    p.context = cond;
    return p;
  }
  at::Tensor uncond = encode(r.negative_prompt.value_or("")).last_hidden_state;
  uncond = uncond.to(model.activation_dtype()).repeat({n, 1, 1});
  p.context = at::cat({uncond, cond}, 0);  // [2N, 77, D]: [negative, positive]
  return p;
}

namespace {

DenoiseState prepare_denoise_unet(SdModel& model, const ResolvedRequest& req, PromptEmbeddings prompt,
                                  const PrepareOverrides& overrides) {
  const at::Tensor& initial_latents = overrides.latents;
  c10::InferenceMode guard;
  const auto& r = req.request;
  DenoiseState s;
  s.prompt = std::move(prompt);
  s.guidance = req.guidance;
  s.scheduler = req.scheduler_name.empty() ? make_scheduler(model.scheduler_config)
                                           : make_scheduler(req.scheduler_name, model.scheduler_config);
  s.scheduler->set_timesteps(r.steps);
  s.scheduler->set_eta(r.eta);
  s.generator = make_cpu_generator(req.seed);
  const int64_t n = r.num_images;
  const int64_t f = model.vae_scale_factor();
  const std::vector<int64_t> shape{n, model.unet->config().out_channels, r.height / f, r.width / f};
  const auto opts = at::TensorOptions().dtype(model.activation_dtype()).device(model.device);

  const int64_t train_steps = s.scheduler->config().value("num_train_timesteps", 1000);
  if (r.mode == GenerationMode::txt2img) {
    s.timesteps = s.scheduler->timesteps();
    if (r.denoising_end) s.timesteps = apply_denoising_end(s.timesteps, *r.denoising_end, train_steps);
    at::Tensor noise = initial_latents.defined() ? initial_latents.to(opts) : randn_like_diffusers(shape, s.generator, opts);
    s.latents = noise * s.scheduler->init_noise_sigma();
    return s;
  }

  const double strength = r.strength.value_or(default_strength(model, r.mode));
  // SD: with the scheduler's begin index (StableDiffusionImg2ImgPipeline); SDXL: without, and
  // denoising_start / denoising_end (StableDiffusionXLImg2ImgPipeline).
  s.timesteps = model.is_sdxl() ? sdxl_img2img_timesteps(*s.scheduler, r.steps, strength, r.denoising_start)
                                : img2img_timesteps(*s.scheduler, r.steps, strength).first;
  if (r.denoising_end) s.timesteps = apply_denoising_end(s.timesteps, *r.denoising_end, train_steps);
  if (s.timesteps.size(0) == 0) throw RequestError("these settings leave no denoising step; raise steps");
  const double t0 = s.timesteps[0].item<double>();
  if (r.mode == GenerationMode::img2img && overrides.init_latents.defined()) {
    // Latents as diffusers' 4-channel `image`: handed over from a base model (denoising_start) they
    // are used as they are; otherwise (hires fix's upscaled latents) they replace the VAE encode and
    // are noised like encoded ones.
    at::Tensor init = overrides.init_latents.to(opts);
    if (init.dim() != 4 || init.size(1) != shape[1] || init.size(2) != shape[2] || init.size(3) != shape[3] ||
        (init.size(0) != 1 && init.size(0) != n))
      throw RequestError("the handed-over latents do not fit this request's size and batch");
    s.latents = init.size(0) == n ? init : init.repeat({n, 1, 1, 1});
    if (r.denoising_start) return s;
    at::Tensor noise = randn_like_diffusers(shape, s.generator, opts);
    s.latents = s.scheduler->add_noise(s.latents, noise, t0);
    return s;
  }
  if (r.init_image.pixels.empty() && !overrides.image.defined()) throw RequestError(std::string(mode_name(r.mode)) + " needs an init image");
  at::Tensor image = overrides.image.defined() ? overrides.image : image_to_tensor(r.init_image);  // [1, 3, H, W]
  if (r.mode == GenerationMode::img2img) {
    at::Tensor init_latents = encode_image_latents(model, image, s.generator).repeat({n, 1, 1, 1});
    if (r.denoising_start) {  // diffusers' add_noise=False: the image is taken as partly denoised
      s.latents = init_latents;
      return s;
    }
    at::Tensor noise = randn_like_diffusers(shape, s.generator, opts);
    s.latents = s.scheduler->add_noise(init_latents, noise, t0);
    return s;
  }

  // inpaint
  const bool strength_max = strength == 1.0;
  s.inpaint9 = model.is_inpainting_unet();
  s.inpaint_legacy = !s.inpaint9;
  // A1111's "fill": the masked area painted from its surroundings before anything is encoded.
  if (r.inpaint_fill == InpaintFill::fill && !overrides.image.defined())
    image = image_to_tensor(fill_masked_area(r.init_image, r.mask_image));  // [1, 3, H, W]
  at::Tensor mask_full = overrides.mask.defined() ? overrides.mask : mask_to_tensor(r.mask_image);  // [1, 1, H, W]
  at::Tensor mask = at::upsample_nearest2d(mask_full, {shape[2], shape[3]}).to(opts);  // [1, 1, h, w]
  if (s.inpaint_legacy || !strength_max) s.image_latents = encode_image_latents(model, image, s.generator).repeat({n, 1, 1, 1});
  if (initial_latents.defined()) {
    s.noise = initial_latents.to(opts);
    s.latents = s.noise * s.scheduler->init_noise_sigma();
  } else {
    s.noise = randn_like_diffusers(shape, s.generator, opts);
    s.latents = strength_max ? s.noise * s.scheduler->init_noise_sigma()
                             : s.scheduler->add_noise(inpaint_start(s.image_latents, s.noise, mask, r.inpaint_fill), s.noise, t0);
  }
  at::Tensor masked_image = image * (mask_full < 0.5);  // keep where mask is 0
  // Drawn for every inpaint call, although a 4-channel UNet never uses it (diffusers does the same).
  s.masked_image_latents = encode_image_latents(model, masked_image, s.generator);
  s.mask = mask.repeat({n, 1, 1, 1});
  s.masked_image_latents = s.masked_image_latents.repeat({n, 1, 1, 1});
  return s;
}

}  // namespace

DenoiseState prepare_denoise(SdModel& model, const ResolvedRequest& req, PromptEmbeddings prompt,
                             const PrepareOverrides& overrides) {
  SpeedState speed = speed_state_for(model, req);  // refuses DeepCache / ToMe for SD3
  if (model.is_sd3()) return sd3_prepare_denoise(model, req, std::move(prompt), overrides);
  DenoiseState s = prepare_denoise_unet(model, req, std::move(prompt), overrides);
  s.control = prepare_control(model, req.request, s.prompt.cfg);
  if (!s.control.empty() && req.request.mode == GenerationMode::txt2img && req.request.denoising_end)
    s.control.window_calls = s.scheduler->timesteps().size(0);  // before denoising_end cut them
  s.speed = std::move(speed);
  return s;
}

at::Tensor decode_latents(SdModel& model, const at::Tensor& latents) {
  // The denoising loop's freed activations go back to the system before the decode allocates its
  // own, and the decode's large blocks are unmapped when freed (cpu_allocator.h, docs/memory.md).
  std::optional<nn::CpuDecodeAllocScope> cpu_alloc;
  if (model.device.is_cpu()) cpu_alloc.emplace();
  if (!model.taesd_final || model.is_sd3()) use_part(model, ModelPart::vae);
  if (model.is_sd3()) return sd3_decode_latents(model, latents);
  if (model.taesd_final) return taesd_decode_latents(model, latents);
  c10::InferenceMode guard;
  const double sf = model.vae->config().scaling_factor;
  at::Tensor z = (latents / sf).to(model.vae_activation_dtype());  // [N, 4, h, w]
  at::Tensor image = model.vae->decode(z);  // [N, 3, H, W]
  image = (image / 2 + 0.5).clamp(0, 1).permute({0, 2, 3, 1}).to(at::kFloat).contiguous();  // [N, H, W, 3]
  if (image.is_cpu()) return image;
  // Device -> host through page-locked memory: a direct DMA, no staging copy in the driver.
  at::Tensor host = at::empty(image.sizes(), at::TensorOptions().dtype(at::kFloat).pinned_memory(image.is_cuda()));
  host.copy_(image);
  return host;
}

std::vector<Image> to_images(const at::Tensor& images_nhwc) {
  at::Tensor u8 = (images_nhwc * 255).round().to(at::kByte).contiguous();  // round half to even
  std::vector<Image> out;
  for (int64_t i = 0; i < u8.size(0); ++i) {
    Image img;
    img.height = static_cast<int>(u8.size(1));
    img.width = static_cast<int>(u8.size(2));
    img.channels = 3;
    const uint8_t* p = u8[i].data_ptr<uint8_t>();
    img.pixels.assign(p, p + img.width * img.height * 3);
    out.push_back(std::move(img));
  }
  return out;
}

}  // namespace sdw
