// Port of diffusers' LCMScheduler (schedulers/scheduling_lcm.py, v0.30.3).
#include "model/schedulers/lcm.h"

#include <cmath>

#include "model/schedulers/betas.h"
#include "model/schedulers/timestep_spacing.h"

namespace sdw {

LcmScheduler::LcmScheduler(SchedulerConfig config) : IndexedScheduler(std::move(config)) {
  alphas_cumprod_ = sched::make_alphas_cumprod(config_, /*clamp_last=*/false);
  final_alpha_cumprod_ = config_.set_alpha_to_one ? at::scalar_tensor(1.0, at::kFloat) : alphas_cumprod_[0];
}

void LcmScheduler::set_timesteps(int num_inference_steps) {
  sched::check_num_inference_steps(config_, num_inference_steps);
  const int64_t n = num_inference_steps;
  const int64_t T = config_.num_train_timesteps;
  const int64_t original_steps = config_.original_inference_steps;
  if (original_steps > T) {
    throw SchedulerError("LCMScheduler: original_inference_steps (" + std::to_string(original_steps) +
                         ") cannot be larger than num_train_timesteps (" + std::to_string(T) + ")");
  }
  // 1. the LCM training/distillation schedule: k, 2k, ..., original_steps * k, minus 1
  //    (strength 1: diffusers' set_timesteps strength argument is for LCM img2img pipelines)
  const int64_t k = T / original_steps;
  std::vector<int64_t> origin;
  for (int64_t i = 1; i <= original_steps; ++i) origin.push_back(i * k - 1);
  const int64_t skipping_step = static_cast<int64_t>(origin.size()) / n;
  if (skipping_step < 1 || n > original_steps) {
    throw SchedulerError("LCMScheduler: num_inference_steps (" + std::to_string(n) +
                         ") cannot be larger than original_inference_steps (" + std::to_string(original_steps) + ")");
  }
  // 2. (approximately) evenly spaced indices into the reversed schedule
  std::vector<int64_t> reversed(origin.rbegin(), origin.rend());
  std::vector<int64_t> timesteps;
  for (double v : sched::np_linspace(0, static_cast<double>(reversed.size()), n, /*endpoint=*/false)) {
    timesteps.push_back(reversed[static_cast<size_t>(std::floor(v))]);
  }
  num_inference_steps_ = n;
  timesteps_ = at::tensor(timesteps, at::kLong);  // [S]
  reset_indices();
}

SchedulerStepOutput LcmScheduler::step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                                       std::optional<at::Generator> generator) {
  require_timesteps("step()");
  if (!step_index_) init_step_index(timestep, /*missing_is_last=*/false);
  const int64_t t = sched::int_timestep(class_name(), timestep, config_.num_train_timesteps);

  // 1. previous step value
  const int64_t prev_step_index = *step_index_ + 1;
  const int64_t prev_t = prev_step_index < timesteps_.size(0) ? timesteps_[prev_step_index].item<int64_t>() : t;

  // 2. alphas, betas
  at::Tensor alpha_prod_t = alphas_cumprod_[t];
  at::Tensor alpha_prod_t_prev = prev_t >= 0 ? alphas_cumprod_[prev_t] : final_alpha_cumprod_;
  at::Tensor beta_prod_t = 1 - alpha_prod_t;
  at::Tensor beta_prod_t_prev = 1 - alpha_prod_t_prev;

  // 3. boundary condition scalings (sigma_data = 0.5); the int64 timestep times the float
  //    timestep_scaling is a float32 tensor in torch
  const double sigma_data = 0.5;
  at::Tensor scaled_timestep = at::scalar_tensor(t, at::kLong) * config_.timestep_scaling;
  at::Tensor c_skip = sched::rdiv(sigma_data * sigma_data, scaled_timestep.pow(2) + sigma_data * sigma_data);
  at::Tensor c_out = scaled_timestep / (scaled_timestep.pow(2) + sigma_data * sigma_data).pow(0.5);

  // 4. predicted original sample x_0 of the model parameterization
  at::Tensor predicted_original_sample;  // [B, C, H, W]
  const std::string& pt = config_.prediction_type;
  if (pt == "epsilon") {
    predicted_original_sample = (sample - beta_prod_t.sqrt() * model_output) / alpha_prod_t.sqrt();
  } else if (pt == "sample") {
    predicted_original_sample = model_output;
  } else {  // v_prediction
    predicted_original_sample = alpha_prod_t.sqrt() * sample - beta_prod_t.sqrt() * model_output;
  }

  // 5. clip or threshold "predicted x_0"
  if (config_.thresholding) {
    predicted_original_sample = sched::threshold_sample(predicted_original_sample, config_.dynamic_thresholding_ratio,
                                                        config_.sample_max_value);
  } else if (config_.clip_sample) {
    predicted_original_sample = predicted_original_sample.clamp(-config_.clip_sample_range, config_.clip_sample_range);
  }

  // 6. denoise the model output with the boundary conditions
  at::Tensor denoised = c_out * predicted_original_sample + c_skip * sample;

  // 7. sample and inject noise z ~ N(0, I) for multistep inference; none on the final timestep
  //    (so none for one-step sampling either)
  at::Tensor prev_sample;
  if (*step_index_ != *num_inference_steps_ - 1) {
    at::Tensor noise = sched::randn_like_cpu(denoised, generator);
    prev_sample = alpha_prod_t_prev.sqrt() * denoised + beta_prod_t_prev.sqrt() * noise;
  } else {
    prev_sample = denoised;
  }
  *step_index_ += 1;
  return {prev_sample, denoised};
}

at::Tensor LcmScheduler::add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const {
  const int64_t t = sched::int_timestep(class_name(), timestep, config_.num_train_timesteps);
  return sched::add_noise_alphas(alphas_cumprod_, original, noise, t);
}

}  // namespace sdw
