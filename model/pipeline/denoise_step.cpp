// One denoising step for one job or a batch of jobs (see denoise_step.h).
#include "model/pipeline/denoise_step.h"

#include <c10/core/InferenceMode.h>

#include <stdexcept>
#include <utility>

#include "model/pipeline/offload.h"
#include "model/pipeline/sd3_model.h"
#include "model/pipeline/sd3_stages.h"

namespace sdw {
namespace {

// Equal sizes from dimension 1 on (the batch may differ); both undefined counts as equal.
bool same_rows(const at::Tensor& a, const at::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.dim() != b.dim() || a.scalar_type() != b.scalar_type()) return false;
  for (int64_t d = 1; d < a.dim(); ++d)
    if (a.size(d) != b.size(d)) return false;
  return true;
}

// The SD3 transformer's part: one call over every state's latents (no scheduler scaling).
void sd3_step_batch(SdModel& model, const std::vector<DenoiseState*>& states) {
  std::vector<at::Tensor> xs, contexts, pooled, timesteps;
  std::vector<int64_t> rows;
  for (DenoiseState* s : states) {
    at::Tensor x = s->prompt.cfg ? at::cat({s->latents, s->latents}, 0) : s->latents;  // [B_i, 16, h, w]
    at::Tensor t = s->timesteps[s->step];                                               // float32 sigma * 1000
    xs.push_back(x);
    contexts.push_back(s->prompt.context);
    pooled.push_back(s->prompt.added.text_embeds);
    timesteps.push_back(t.expand({x.size(0)}).to(model.device));
    rows.push_back(x.size(0));
  }
  at::Tensor noise_pred = model.sd3->transformer->forward(at::cat(xs, 0), at::cat(contexts, 0), at::cat(pooled, 0),
                                                          at::cat(timesteps, 0));  // [sum B_i, 16, h, w]
  auto parts = noise_pred.split_with_sizes(rows, 0);
  for (size_t i = 0; i < states.size(); ++i) {
    DenoiseState& s = *states[i];
    finish_step(s, s.timesteps[s.step].item<double>(), parts[i]);
  }
}

}  // namespace

at::Tensor add_inpaint_channels(const DenoiseState& s, const at::Tensor& x) {
  const bool cfg = s.prompt.cfg;
  at::Tensor mask = cfg ? at::cat({s.mask, s.mask}, 0) : s.mask;
  at::Tensor mil = cfg ? at::cat({s.masked_image_latents, s.masked_image_latents}, 0) : s.masked_image_latents;
  return at::cat({x, mask, mil}, 1);  // [B, 9, h, w]
}

at::Tensor step_model_input(DenoiseState& s, double t, bool with_inpaint) {
  at::Tensor x = s.prompt.cfg ? at::cat({s.latents, s.latents}, 0) : s.latents;  // [B, 4, h, w]
  x = s.scheduler->scale_model_input(x, t);
  return with_inpaint && s.inpaint9 ? add_inpaint_channels(s, x) : x;
}

void finish_step(DenoiseState& s, double t, at::Tensor noise_pred) {
  if (s.prompt.cfg) {
    auto parts = noise_pred.chunk(2, 0);
    noise_pred = parts[0] + s.guidance * (parts[1] - parts[0]);
  }
  s.latents = s.scheduler->step(noise_pred, t, s.latents, s.generator).prev_sample;
  if (s.inpaint_legacy) {
    at::Tensor proper = s.image_latents;
    if (s.step + 1 < s.total()) proper = s.scheduler->add_noise(s.image_latents, s.noise, s.timesteps[s.step + 1].item<double>());
    s.latents = (1 - s.mask) * proper + s.mask * s.latents;
  }
  ++s.step;
}

void denoise_step(SdModel& model, DenoiseState& s) {
  use_part(model, ModelPart::denoiser);
  if (model.is_sd3()) return sd3_denoise_step(model, s);
  c10::InferenceMode guard;
  if (s.done()) throw std::logic_error("denoise_step called after the last step");
  const double t = s.timesteps[s.step].item<double>();
  at::Tensor x = step_model_input(s, t, false);  // [B, 4, h, w]
  UNetControlResiduals control;                  // the ControlNets see the latents before the inpaint channels
  if (!s.control.empty()) control = control_residuals(s.control, x, t, s.prompt.context, s.prompt.cfg, s.step,
                                                      s.control.window_calls ? s.control.window_calls : s.total(), s.prompt.added);
  if (s.inpaint9) x = add_inpaint_channels(s, x);  // [B, 9, h, w]
  if (model.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor noise_pred = s.speed.active()  // [B, 4, h, w]
                              ? speed_unet_forward(model, s.speed, s.step, x, t, s.prompt.context, s.prompt.added, control)
                              : model.unet_runner().forward(x, t, s.prompt.context, s.prompt.added, control);
  finish_step(s, t, noise_pred);
}

bool can_batch(const SdModel& model, const DenoiseState& a, const DenoiseState& b) {
  if (a.done() || b.done()) return false;
  if (!a.control.empty() || !b.control.empty() || a.speed.active() || b.speed.active()) return false;
  if (a.prompt.cfg != b.prompt.cfg || a.inpaint9 != b.inpaint9) return false;
  if (!same_rows(a.latents, b.latents) || !same_rows(a.prompt.context, b.prompt.context)) return false;
  if (!same_rows(a.prompt.added.text_embeds, b.prompt.added.text_embeds) ||
      !same_rows(a.prompt.added.time_ids, b.prompt.added.time_ids))
    return false;
  if (a.inpaint9 && (!same_rows(a.mask, b.mask) || !same_rows(a.masked_image_latents, b.masked_image_latents))) return false;
  return true;
}

void denoise_step_batch(SdModel& model, const std::vector<DenoiseState*>& states) {
  if (states.empty()) return;
  if (states.size() == 1) return denoise_step(model, *states.front());
  use_part(model, ModelPart::denoiser);
  c10::InferenceMode guard;
  for (size_t i = 0; i < states.size(); ++i) {
    if (states[i]->done()) throw std::logic_error("denoise_step called after the last step");
    if (i > 0 && !can_batch(model, *states[0], *states[i]))
      throw std::logic_error("denoise_step_batch: jobs that cannot share a UNet call");
  }
  if (model.is_sd3()) return sd3_step_batch(model, states);
  std::vector<at::Tensor> xs, contexts, text_embeds, time_ids, timesteps;
  std::vector<double> ts;
  std::vector<int64_t> rows;
  for (DenoiseState* s : states) {
    const double t = s->timesteps[s->step].item<double>();
    at::Tensor x = step_model_input(*s, t, true);  // [B_i, 4|9, h, w]
    ts.push_back(t);
    rows.push_back(x.size(0));
    xs.push_back(std::move(x));
    timesteps.push_back(at::full({rows.back()}, t, at::TensorOptions().dtype(at::kDouble)));  // [B_i]
    contexts.push_back(s->prompt.context);
    if (s->prompt.added.text_embeds.defined()) text_embeds.push_back(s->prompt.added.text_embeds);
    if (s->prompt.added.time_ids.defined()) time_ids.push_back(s->prompt.added.time_ids);
  }
  at::Tensor x = at::cat(xs, 0);  // [sum B_i, 4|9, h, w]
  if (model.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  UNetAddedCond added;
  if (!text_embeds.empty()) added.text_embeds = at::cat(text_embeds, 0);  // [sum B_i, 1280]
  if (!time_ids.empty()) added.time_ids = at::cat(time_ids, 0);           // [sum B_i, 6]
  at::Tensor noise_pred = model.unet_runner().forward(x, at::cat(timesteps, 0), at::cat(contexts, 0), added);
  auto parts = noise_pred.split_with_sizes(rows, 0);  // [B_i, 4, h, w] each
  for (size_t i = 0; i < states.size(); ++i) finish_step(*states[i], ts[i], parts[i]);
}

}  // namespace sdw
