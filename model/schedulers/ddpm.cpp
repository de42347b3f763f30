// Port of diffusers' DDPMScheduler (schedulers/scheduling_ddpm.py, v0.30.3).
#include "model/schedulers/ddpm.h"

namespace sdw {

DdpmScheduler::DdpmScheduler(SchedulerConfig config) : TimestepValueScheduler(std::move(config)) {
  one_ = at::scalar_tensor(1.0, at::kFloat);
}

int64_t DdpmScheduler::previous_timestep(int64_t timestep) const {
  const int64_t n = num_inference_steps_ ? *num_inference_steps_ : config_.num_train_timesteps;
  return timestep - config_.num_train_timesteps / n;
}

at::Tensor DdpmScheduler::variance(int64_t t) const {
  const int64_t prev_t = previous_timestep(t);
  at::Tensor alpha_prod_t = alphas_cumprod_[t];
  at::Tensor alpha_prod_t_prev = prev_t >= 0 ? alphas_cumprod_[prev_t] : one_;
  at::Tensor current_beta_t = 1 - alpha_prod_t / alpha_prod_t_prev;

  // For t > 0, compute predicted variance beta_t (see formulas (6) and (7)) and sample from it
  at::Tensor var = (1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * current_beta_t;
  // we always take the log of variance, so clamp it to ensure it's not 0
  var = at::clamp(var, 1e-20);
  const std::string& vt = config_.variance_type;
  if (vt == "fixed_small_log") {
    var = at::log(var);
    var = at::exp(0.5 * var);
  } else if (vt == "fixed_large") {
    var = current_beta_t;
  } else if (vt == "fixed_large_log") {
    var = at::log(current_beta_t);  // Glide max_log
  }
  return var;
}

SchedulerStepOutput DdpmScheduler::step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                                        std::optional<at::Generator> generator) {
  require_timesteps("step()");
  const int64_t t = train_timestep(timestep);
  const int64_t prev_t = previous_timestep(t);

  // 1. compute alphas, betas
  at::Tensor alpha_prod_t = alphas_cumprod_[t];
  at::Tensor alpha_prod_t_prev = prev_t >= 0 ? alphas_cumprod_[prev_t] : one_;
  at::Tensor beta_prod_t = 1 - alpha_prod_t;
  at::Tensor beta_prod_t_prev = 1 - alpha_prod_t_prev;
  at::Tensor current_alpha_t = alpha_prod_t / alpha_prod_t_prev;
  at::Tensor current_beta_t = 1 - current_alpha_t;

  // 2. predicted original sample ("predicted x_0", formula (15))
  at::Tensor pred_original_sample;  // [B, C, H, W]
  const std::string& pt = config_.prediction_type;
  if (pt == "epsilon") {
    pred_original_sample = (sample - beta_prod_t.pow(0.5) * model_output) / alpha_prod_t.pow(0.5);
  } else if (pt == "sample") {
    pred_original_sample = model_output;
  } else {  // v_prediction
    pred_original_sample = alpha_prod_t.pow(0.5) * sample - beta_prod_t.pow(0.5) * model_output;
  }

  // 3. clip or threshold "predicted x_0"
  if (config_.thresholding) {
    pred_original_sample =
        sched::threshold_sample(pred_original_sample, config_.dynamic_thresholding_ratio, config_.sample_max_value);
  } else if (config_.clip_sample) {
    pred_original_sample = pred_original_sample.clamp(-config_.clip_sample_range, config_.clip_sample_range);
  }

  // 4. coefficients of pred_original_sample x_0 and current sample x_t (formula (7))
  at::Tensor pred_original_sample_coeff = (alpha_prod_t_prev.pow(0.5) * current_beta_t) / beta_prod_t;
  at::Tensor current_sample_coeff = current_alpha_t.pow(0.5) * beta_prod_t_prev / beta_prod_t;

  // 5. predicted previous sample mu_t
  at::Tensor pred_prev_sample = pred_original_sample_coeff * pred_original_sample + current_sample_coeff * sample;

  // 6. add noise
  if (t > 0) {
    at::Tensor variance_noise = sched::randn_like_cpu(model_output, generator);
    at::Tensor var = config_.variance_type == "fixed_small_log" ? variance(t) * variance_noise
                                                                 : variance(t).pow(0.5) * variance_noise;
    pred_prev_sample = pred_prev_sample + var;
  }
  return {pred_prev_sample, pred_original_sample};
}

}  // namespace sdw
