// SD3 pipeline stages (see sd3_stages.h), following diffusers v0.30.3's
// pipeline_stable_diffusion_3.py and pipeline_stable_diffusion_3_img2img.py, including the order
// of random draws, so a seed gives the image diffusers gives.
#include "model/pipeline/sd3_stages.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

#include "model/pipeline/offload.h"
#include "model/pipeline/rng.h"
#include "model/pipeline/sd3_model.h"
#include "model/schedulers/flow_match_euler.h"
#include "model/schedulers/scheduler.h"

namespace sdw {
namespace {

const Sd3Components& parts_of(const SdModel& model) {
  if (!model.sd3) throw std::logic_error("an SD3 stage called for a model without SD3 components");
  return *model.sd3;
}

// Image pixels per transformer token along one axis: VAE factor x patch size (16 for SD3).
int64_t pixels_per_patch(const SdModel& model) {
  return model.vae_scale_factor() * parts_of(model).transformer->config().patch_size;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

at::Tensor ids_tensor(const std::vector<int64_t>& ids, const at::Device& device) {
  return at::tensor(ids, at::kLong).view({1, static_cast<int64_t>(ids.size())}).to(device);  // [1, L]
}

}  // namespace

void refuse_sd3_fields(const SdModel& model, const GenerationRequest& r) {
  const std::string which = " (this model is of family '" + model.family + "')";
  if (r.t5) throw RequestError("t5: only SD3 models have a T5 encoder to switch" + which);
  if (r.max_sequence_length != 0) throw RequestError("max_sequence_length: only SD3 models take T5's token count" + which);
  const std::string s = lower(r.scheduler);
  if (s == "flow_match_euler" || s == "flowmatcheulerdiscretescheduler")
    throw RequestError("scheduler: '" + r.scheduler + "' is SD3's flow-matching scheduler" + which);
}

int64_t sd3_img2img_start(int num_inference_steps, double strength) {
  const double n = num_inference_steps;
  const double init_timestep = std::min(n * strength, n);  // a float, unlike SD1.x's int()
  return static_cast<int64_t>(std::max(n - init_timestep, 0.0));
}

void check_sd3_request(const SdModel& model, GenerationRequest& r) {
  if (r.mode == GenerationMode::inpaint) throw RequestError("SD3 models do txt2img and img2img; inpainting is not supported");
  if (!r.loras.empty()) throw RequestError("loras: LoRAs are not supported for SD3 models");
  if (r.denoising_start || r.denoising_end) throw RequestError("denoising_start and denoising_end are for SDXL models only");
  if (!r.scheduler.empty()) {
    // Its own scheduler by any of its names, and A1111's "Euler" (which on a flow model is this one).
    std::string s;
    try {
      s = canonical_scheduler_name(r.scheduler);
    } catch (const SchedulerError& e) {
      throw RequestError(std::string("scheduler: ") + e.what());
    }
    if (s != "flow_match_euler" && s != "euler")
      throw RequestError("scheduler: SD3 models run their FlowMatchEulerDiscreteScheduler (flow_match_euler, A1111's "
                         "Euler); '" + r.scheduler + "' is for UNet models");
    r.scheduler.clear();  // the model's own
  }
  const Sd3Components& parts = parts_of(model);
  if (r.t5.value_or(false) && !parts.has_t5())
    throw RequestError(parts.t5_left_out
                           ? "t5: this worker loaded the model without its T5 encoder (--no-t5); send t5: false or leave "
                             "the field out"
                           : "t5: this model has no T5 encoder (text_encoder_3); send t5: false or leave the field out");
  if (r.max_sequence_length == 0) r.max_sequence_length = parts.default_max_sequence_length;
  if (r.max_sequence_length < 1 || r.max_sequence_length > T5Tokenizer::kMaxSequenceLength)
    throw RequestError("max_sequence_length must be between 1 and " + std::to_string(T5Tokenizer::kMaxSequenceLength) +
                       ", got " + std::to_string(r.max_sequence_length));
  if (r.mode == GenerationMode::img2img && !r.strength) r.strength = 0.6;  // diffusers' default
  const int64_t m = pixels_per_patch(model);
  if (r.mode == GenerationMode::img2img && !r.init_image.pixels.empty()) {  // default size: the image's, to a multiple of 16
    if (r.width == 0) r.width = static_cast<int>(r.init_image.width - r.init_image.width % m);
    if (r.height == 0) r.height = static_cast<int>(r.init_image.height - r.init_image.height % m);
  }
  for (auto [name, v] : {std::pair<const char*, int>{"width", r.width}, {"height", r.height}})
    if (v != 0 && v % m != 0)
      throw RequestError(std::string(name) + " must be a multiple of " + std::to_string(m) + " for SD3, got " +
                         std::to_string(v));
}

PromptEmbeddings sd3_encode_prompt(SdModel& model, const ResolvedRequest& req) {
  c10::InferenceMode guard;
  parts_of(model);
  Sd3Components& parts = *model.sd3;
  const auto& r = req.request;
  const int64_t n = r.num_images;
  const int64_t joint_dim = parts.transformer->config().joint_attention_dim;
  const int max_sequence_length = r.max_sequence_length > 0 ? r.max_sequence_length : parts.default_max_sequence_length;
  const bool use_t5 = parts.has_t5() && r.t5.value_or(true);
  // One text -> prompt_embeds [1, 77 + L, D] and pooled [1, P]. `layer`: how far from the end the
  // CLIP hidden state is taken (2 = penultimate, diffusers' clip_skip None).
  auto encode = [&](const std::string& text, size_t layer) {
    std::vector<at::Tensor> states, pooled;
    for (int i = 0; i < 2; ++i) {
      const ClipTokenizer& tok = i == 0 ? *model.tokenizer : *model.tokenizer_2;
      CLIPTextModel& te = i == 0 ? model.text_encoder : model.text_encoder_2;
      CLIPTextOutput out = te->forward(ids_tensor(tok.encode_padded(text), model.device));
      if (layer > out.hidden_states.size()) throw RequestError("clip_skip is larger than the CLIP encoders' depth");
      states.push_back(out.hidden_states[out.hidden_states.size() - layer]);  // [1, 77, H_i], no final_layer_norm
      pooled.push_back(out.text_embeds);                                      // [1, P_i]
    }
    at::Tensor clip = at::cat(states, -1);  // [1, 77, H_L + H_G]
    at::Tensor t5;
    if (use_t5) {
      // T5 runs where it was loaded (--t5-device: the CPU beside a GPU transformer); its output
      // joins the CLIP part on the model's device.
      t5 = parts.text_encoder_3->forward(ids_tensor(parts.tokenizer_3->encode_padded(text, max_sequence_length), parts.t5_device))
               .last_hidden_state.to(model.device, clip.scalar_type());  // [1, L, D] (no attention mask: padding is attended to)
    } else {
      t5 = at::zeros({1, parts.tokenizer_max_length, joint_dim}, clip.options());  // [1, 77, D]
    }
    // F.pad to T5's width (a negative amount crops, as in diffusers).
    clip = at::constant_pad_nd(clip, {0, t5.size(-1) - clip.size(-1)}, 0);
    at::Tensor embeds = at::cat({clip.to(t5.scalar_type()), t5}, -2);  // [1, 77 + L, D]
    return std::make_pair(embeds.to(model.activation_dtype()), at::cat(pooled, -1).to(model.activation_dtype()));
  };
  auto [cond, pooled] = encode(r.prompt, static_cast<size_t>(r.clip_skip) + 1);
  PromptEmbeddings p;
  p.cfg = req.guidance > 1.0;
  cond = cond.repeat({n, 1, 1});     // [N, T, D]
  pooled = pooled.repeat({n, 1});    // [N, P]
  if (!p.cfg) {
    p.context = cond;
    p.added.text_embeds = pooled;
    return p;
  }
  auto [uncond, uncond_pooled] = encode(r.negative_prompt.value_or(""), 2);  // negatives ignore clip_skip
  p.context = at::cat({uncond.repeat({n, 1, 1}), cond}, 0);                  // [2N, T, D]: [negative, positive]
  p.added.text_embeds = at::cat({uncond_pooled.repeat({n, 1}), pooled}, 0);  // [2N, P]
  return p;
}

DenoiseState sd3_prepare_denoise(SdModel& model, const ResolvedRequest& req, PromptEmbeddings prompt,
                                 const PrepareOverrides& overrides) {
  c10::InferenceMode guard;
  const Sd3Components& parts = parts_of(model);
  const auto& r = req.request;
  if (!req.scheduler_name.empty()) throw RequestError("scheduler: SD3 models run their FlowMatchEulerDiscreteScheduler");
  if (r.mode == GenerationMode::inpaint) throw RequestError("SD3 models do txt2img and img2img; inpainting is not supported");
  const int64_t m = pixels_per_patch(model);
  if (r.width % m != 0 || r.height % m != 0)
    throw RequestError("width and height must be multiples of " + std::to_string(m) + " for SD3, got " +
                       std::to_string(r.width) + "x" + std::to_string(r.height));
  DenoiseState s;
  s.prompt = std::move(prompt);
  s.guidance = req.guidance;
  s.scheduler = make_scheduler(model.scheduler_config);
  const int64_t f = model.vae_scale_factor();
  const int64_t h = r.height / f, w = r.width / f;
  if (auto* flow = dynamic_cast<FlowMatchEulerScheduler*>(s.scheduler.get()); flow && flow->dynamic_shifting()) {
    const int64_t p = parts.transformer->config().patch_size;
    flow->set_mu(flow->mu_for_image_tokens((h / p) * (w / p)));
  }
  s.scheduler->set_timesteps(r.steps);
  s.generator = make_cpu_generator(req.seed);
  const int64_t n = r.num_images;
  const std::vector<int64_t> shape{n, parts.transformer->config().in_channels, h, w};
  const auto opts = at::TensorOptions().dtype(model.activation_dtype()).device(model.device);

  if (r.mode == GenerationMode::txt2img) {
    // 1. prepare_latents: the raw draw (flow matching has no init noise sigma)
    s.timesteps = s.scheduler->timesteps();
    s.latents = overrides.latents.defined() ? overrides.latents.to(opts) : randn_like_diffusers(shape, s.generator, opts);
    return s;
  }
  // img2img: 1. get_timesteps (with the scheduler's begin index)
  const int64_t t_start = sd3_img2img_start(r.steps, r.strength.value_or(0.6));
  s.timesteps = s.scheduler->timesteps().slice(0, t_start);
  if (s.timesteps.size(0) == 0) throw RequestError("this strength leaves no denoising step; raise steps or strength");
  s.scheduler->set_begin_index(t_start);
  // 2. the image's latents: posterior sample (first draw), (sample - shift) * scale
  if (r.init_image.pixels.empty() && !overrides.image.defined()) throw RequestError("img2img needs an init image");
  at::Tensor image = overrides.image.defined() ? overrides.image : image_to_tensor(r.init_image);  // [1, 3, H, W]
  const auto& vc = model.vae->config();
  use_part(model, ModelPart::vae);
  LatentDistribution d = model.vae->encode(image.to(model.device, model.vae_activation_dtype()));
  at::Tensor eps = randn_like_diffusers(d.mean.sizes(), s.generator, d.mean.options());
  at::Tensor init = ((d.sample(eps) - vc.shift_factor.value_or(0.0)) * vc.scaling_factor).to(opts.dtype());
  init = init.repeat({n, 1, 1, 1});  // [N, 16, h, w]
  // 3. noise (second draw) and scale_noise at the first timestep run
  at::Tensor noise = randn_like_diffusers(init.sizes(), s.generator, opts);
  s.latents = s.scheduler->add_noise(init, noise, s.timesteps[0].item<double>());
  return s;
}

void sd3_denoise_step(SdModel& model, DenoiseState& s) {
  c10::InferenceMode guard;
  if (s.done()) throw std::logic_error("denoise_step called after the last step");
  SD3Transformer2DModel& transformer = model.sd3->transformer;
  const bool cfg = s.prompt.cfg;
  at::Tensor x = cfg ? at::cat({s.latents, s.latents}, 0) : s.latents;  // [B, 16, h, w]
  at::Tensor t = s.timesteps[s.step];                                    // float32 sigma * 1000
  at::Tensor timestep = t.expand({x.size(0)}).to(model.device);           // [B], not rounded
  at::Tensor noise_pred = transformer->forward(x, s.prompt.context, s.prompt.added.text_embeds, timestep);
  if (cfg) {
    auto parts = noise_pred.chunk(2, 0);
    noise_pred = parts[0] + s.guidance * (parts[1] - parts[0]);
  }
  s.latents = s.scheduler->step(noise_pred, t.item<double>(), s.latents, s.generator).prev_sample;
  ++s.step;
}

at::Tensor sd3_decode_latents(SdModel& model, const at::Tensor& latents) {
  c10::InferenceMode guard;
  const auto& vc = model.vae->config();
  at::Tensor z = (latents / vc.scaling_factor + vc.shift_factor.value_or(0.0)).to(model.vae_activation_dtype());  // [N, 16, h, w]
  at::Tensor image = model.vae->decode(z);                                                                        // [N, 3, H, W]
  image = (image / 2 + 0.5).clamp(0, 1).permute({0, 2, 3, 1}).to(at::kFloat).contiguous();                       // [N, H, W, 3]
  return image.is_cpu() ? image : image.cpu();
}

}  // namespace sdw
