// SDXL stage helpers (see sdxl_stages.h), ported from diffusers 0.30's
// StableDiffusionXLImg2ImgPipeline (get_timesteps, _get_add_time_ids, denoising_end).
#include "model/pipeline/sdxl_stages.h"

#include <cmath>
#include <string>

#include "model/loading/state_dict.h"

namespace sdw {
namespace {

bool fraction_valid(double v) { return std::isfinite(v) && v > 0 && v < 1; }

int64_t projection_dim(const SdModel& model) {
  return model.text_encoder_2->config().projection_dim;  // diffusers: text_encoder_2.config.projection_dim
}

}  // namespace

SdxlTimeIds sdxl_time_ids(const SdModel& model, const GenerationRequest& r) {
  const double h = r.height, w = r.width;
  SdxlTimeIds ids;
  if (model.requires_aesthetics_score) {
    ids.positive = at::tensor({h, w, 0.0, 0.0, r.aesthetic_score});
    ids.negative = at::tensor({h, w, 0.0, 0.0, r.negative_aesthetic_score});
  } else {
    ids.positive = at::tensor({h, w, 0.0, 0.0, h, w});
    ids.negative = ids.positive.clone();
  }
  const auto& cfg = model.unet->config();
  const int64_t passed = cfg.addition_time_embed_dim * ids.positive.size(0) + projection_dim(model);
  const int64_t expected = cfg.projection_class_embeddings_input_dim;
  if (passed != expected)
    throw LoadError("the UNet's add_embedding takes " + std::to_string(expected) + " values but " +
                    (model.requires_aesthetics_score ? "aesthetic-score" : "size") + " time ids give " +
                    std::to_string(passed) + " (requires_aesthetics_score is " +
                    (model.requires_aesthetics_score ? "true" : "false") + " in model_index.json)");
  const auto opts = at::TensorOptions().dtype(model.activation_dtype()).device(model.device);
  ids.positive = ids.positive.to(opts).unsqueeze(0);  // [1, 5|6]
  ids.negative = ids.negative.to(opts).unsqueeze(0);
  return ids;
}

int64_t denoising_cutoff(double fraction, int64_t num_train_timesteps) {
  const double t = static_cast<double>(num_train_timesteps);
  return static_cast<int64_t>(std::nearbyint(t - fraction * t));  // Python's round: half to even
}

at::Tensor sdxl_img2img_timesteps(Scheduler& scheduler, int steps, double strength, std::optional<double> denoising_start) {
  scheduler.set_timesteps(steps);
  const at::Tensor all = scheduler.timesteps();
  int64_t t_start = 0;
  if (!denoising_start) {
    const int64_t init_timestep = std::min<int64_t>(static_cast<int64_t>(steps * strength), steps);
    t_start = std::max<int64_t>(steps - init_timestep, 0);
  }
  at::Tensor timesteps = all.slice(0, std::min<int64_t>(t_start * scheduler.order(), all.size(0)));
  if (!denoising_start) return timesteps;
  const int64_t cutoff = denoising_cutoff(*denoising_start, scheduler.config().value("num_train_timesteps", 1000));
  int64_t n = (timesteps < static_cast<double>(cutoff)).sum().item<int64_t>();
  // A second-order scheduler repeats every timestep but the first: an even count would cut a step
  // between its two evaluations.
  if (scheduler.order() == 2 && n % 2 == 0) n += 1;
  n = std::min<int64_t>(n, timesteps.size(0));
  return timesteps.slice(0, timesteps.size(0) - n);
}

at::Tensor apply_denoising_end(const at::Tensor& timesteps, double denoising_end, int64_t num_train_timesteps) {
  const int64_t cutoff = denoising_cutoff(denoising_end, num_train_timesteps);
  const int64_t n = (timesteps >= static_cast<double>(cutoff)).sum().item<int64_t>();
  return timesteps.slice(0, 0, n);
}

void check_sdxl_fields(const SdModel& model, const GenerationRequest& r) {
  const bool any = r.denoising_start || r.denoising_end;
  if (any && !model.is_sdxl()) throw RequestError("denoising_start and denoising_end are for SDXL models only");
  if (r.denoising_start) {
    if (!fraction_valid(*r.denoising_start))
      throw RequestError("denoising_start must be between 0 and 1 (exclusive), got " + std::to_string(*r.denoising_start));
    if (r.mode != GenerationMode::img2img) throw RequestError("denoising_start needs img2img (the refiner's half of a hand-off)");
  }
  if (r.denoising_end && !fraction_valid(*r.denoising_end))
    throw RequestError("denoising_end must be between 0 and 1 (exclusive), got " + std::to_string(*r.denoising_end));
  if (r.denoising_start && r.denoising_end && *r.denoising_start >= *r.denoising_end)
    throw RequestError("denoising_start (" + std::to_string(*r.denoising_start) + ") must be below denoising_end (" +
                       std::to_string(*r.denoising_end) + ")");
  for (double score : {r.aesthetic_score, r.negative_aesthetic_score})
    if (!std::isfinite(score) || score < 0 || score > 10)
      throw RequestError("aesthetic_score and negative_aesthetic_score must be between 0 and 10");
}

double default_strength(const SdModel& model, GenerationMode mode) {
  if (!model.is_sdxl()) return 0.8;
  return mode == GenerationMode::inpaint ? 0.9999 : 0.3;
}

}  // namespace sdw
