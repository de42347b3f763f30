// Port of diffusers' DDIMScheduler (schedulers/scheduling_ddim.py, v0.30.3).
#include "model/schedulers/ddim.h"

namespace sdw {

DdimScheduler::DdimScheduler(SchedulerConfig config) : TimestepValueScheduler(std::move(config)) {
  // At every step we look into the previous alphas_cumprod; for the final step there is none:
  // set_alpha_to_one uses 1, otherwise the alpha of step 0.
  final_alpha_cumprod_ = config_.set_alpha_to_one ? at::scalar_tensor(1.0, at::kFloat) : alphas_cumprod_[0];
}

void DdimScheduler::set_eta(double eta) {
  if (!(eta >= 0.0)) throw SchedulerError("DDIMScheduler: eta must be >= 0");
  eta_ = eta;
}

at::Tensor DdimScheduler::variance(int64_t timestep, int64_t prev_timestep) const {
  at::Tensor alpha_prod_t = alphas_cumprod_[timestep];
  at::Tensor alpha_prod_t_prev = prev_timestep >= 0 ? alphas_cumprod_[prev_timestep] : final_alpha_cumprod_;
  at::Tensor beta_prod_t = 1 - alpha_prod_t;
  at::Tensor beta_prod_t_prev = 1 - alpha_prod_t_prev;
  return (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev);
}

SchedulerStepOutput DdimScheduler::step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                                        std::optional<at::Generator> generator) {
  require_timesteps("step()");
  const int64_t T = config_.num_train_timesteps;
  const int64_t t = train_timestep(timestep);

  // 1. get previous step value (= t - T / S)
  const int64_t prev_t = t - T / *num_inference_steps_;

  // 2. compute alphas, betas
  at::Tensor alpha_prod_t = alphas_cumprod_[t];
  at::Tensor alpha_prod_t_prev = prev_t >= 0 ? alphas_cumprod_[prev_t] : final_alpha_cumprod_;
  at::Tensor beta_prod_t = 1 - alpha_prod_t;

  // 3. predicted original sample ("predicted x_0", formula (12)) and predicted noise
  at::Tensor pred_original_sample;  // [B, C, H, W]
  at::Tensor pred_epsilon;          // [B, C, H, W]
  const std::string& pt = config_.prediction_type;
  if (pt == "epsilon") {
    pred_original_sample = (sample - beta_prod_t.pow(0.5) * model_output) / alpha_prod_t.pow(0.5);
    pred_epsilon = model_output;
  } else if (pt == "sample") {
    pred_original_sample = model_output;
    pred_epsilon = (sample - alpha_prod_t.pow(0.5) * pred_original_sample) / beta_prod_t.pow(0.5);
  } else {  // v_prediction
    pred_original_sample = alpha_prod_t.pow(0.5) * sample - beta_prod_t.pow(0.5) * model_output;
    pred_epsilon = alpha_prod_t.pow(0.5) * model_output + beta_prod_t.pow(0.5) * sample;
  }

  // 4. clip or threshold "predicted x_0"
  if (config_.thresholding) {
    pred_original_sample =
        sched::threshold_sample(pred_original_sample, config_.dynamic_thresholding_ratio, config_.sample_max_value);
  } else if (config_.clip_sample) {
    pred_original_sample = pred_original_sample.clamp(-config_.clip_sample_range, config_.clip_sample_range);
  }

  // 5. variance sigma_t(eta), formula (16)
  at::Tensor std_dev_t = variance(t, prev_t).pow(0.5) * eta_;

  // 6. "direction pointing to x_t" of formula (12)
  at::Tensor pred_sample_direction = (1 - alpha_prod_t_prev - std_dev_t.pow(2)).pow(0.5) * pred_epsilon;

  // 7. x_{t-1} without the random noise of formula (12)
  at::Tensor prev_sample = alpha_prod_t_prev.pow(0.5) * pred_original_sample + pred_sample_direction;

  if (eta_ > 0) {
    at::Tensor variance_noise = sched::randn_like_cpu(model_output, generator);
    prev_sample = prev_sample + std_dev_t * variance_noise;
  }
  return {prev_sample, pred_original_sample};
}

}  // namespace sdw
