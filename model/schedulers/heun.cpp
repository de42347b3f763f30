// Port of diffusers' HeunDiscreteScheduler (schedulers/scheduling_heun_discrete.py, v0.30.3).
#include "model/schedulers/heun.h"

#include "model/schedulers/betas.h"
#include "model/schedulers/sigma_schedule.h"
#include "model/schedulers/timestep_spacing.h"

namespace sdw {

HeunScheduler::HeunScheduler(SchedulerConfig config) : DiscreteSigmaScheduler(std::move(config)) {
  alphas_cumprod_ = sched::make_alphas_cumprod(config_, /*clamp_last=*/false);
}

void HeunScheduler::set_timesteps(int num_inference_steps) {
  sched::check_num_inference_steps(config_, num_inference_steps);
  const int64_t n = num_inference_steps;
  num_inference_steps_ = n;

  std::vector<float> ts32 = sched::spaced_timesteps_float(config_, n);
  std::vector<double> timesteps(ts32.begin(), ts32.end());
  const std::vector<float> train = sched::train_sigmas(alphas_cumprod_);
  const std::vector<float> log_sigmas = sched::log_f32(train);
  std::vector<double> sigmas = sched::interp_sigmas(timesteps, train);
  if (config_.use_karras_sigmas) {
    sigmas = sched::karras_sigmas(sigmas.back(), sigmas.front(), n);
    timesteps.clear();
    for (double s : sigmas) timesteps.push_back(sched::sigma_to_t(s, log_sigmas));
  }
  sigmas.push_back(0.0);

  // sigmas: [s0, s1, s1, ..., s_{n-1}, s_{n-1}, 0]; timesteps: [t0, t1, t1, ..., t_{n-1}, t_{n-1}]
  std::vector<float> s2;
  std::vector<float> t2;
  s2.push_back(static_cast<float>(sigmas.front()));
  for (size_t i = 1; i + 1 < sigmas.size(); ++i) {
    s2.push_back(static_cast<float>(sigmas[i]));
    s2.push_back(static_cast<float>(sigmas[i]));
  }
  s2.push_back(static_cast<float>(sigmas.back()));
  // timesteps keep numpy's dtype until the final float32 cast (float64 for karras)
  t2.push_back(static_cast<float>(timesteps.front()));
  for (size_t i = 1; i < timesteps.size(); ++i) {
    t2.push_back(static_cast<float>(timesteps[i]));
    t2.push_back(static_cast<float>(timesteps[i]));
  }
  sigmas_ = sched::to_f32_tensor(s2);     // [2n]
  timesteps_ = sched::to_f32_tensor(t2);  // [2n - 1]

  prev_derivative_ = at::Tensor();
  dt_ = at::Tensor();
  sample_ = at::Tensor();
  reset_indices();
}

SchedulerStepOutput HeunScheduler::step(const at::Tensor& model_output, double timestep, const at::Tensor& sample_in,
                                        std::optional<at::Generator> /*generator*/) {
  begin_step(timestep);

  at::Tensor sigma;
  at::Tensor sigma_next;
  if (state_in_first_order()) {
    sigma = sigmas_[*step_index_];
    sigma_next = sigmas_[*step_index_ + 1];
  } else {
    // 2nd order / Heun's method
    sigma = sigmas_[*step_index_ - 1];
    sigma_next = sigmas_[*step_index_];
  }

  // currently only gamma = 0 is supported (as diffusers): sigma_hat == sigma
  const int gamma = 0;
  at::Tensor sigma_hat = sigma * (gamma + 1);

  // 1. compute predicted original sample (x_0) from sigma-scaled predicted noise
  at::Tensor pred_original_sample;  // [B, C, H, W]
  at::Tensor sigma_input = state_in_first_order() ? sigma_hat : sigma_next;
  const std::string& pt = config_.prediction_type;
  if (pt == "epsilon") {
    pred_original_sample = sample_in - sigma_input * model_output;
  } else if (pt == "v_prediction") {
    pred_original_sample =
        model_output * (-sigma_input / (sigma_input.pow(2) + 1).pow(0.5)) + (sample_in / (sigma_input.pow(2) + 1));
  } else {  // sample
    pred_original_sample = model_output;
  }
  if (config_.clip_sample) {
    pred_original_sample = pred_original_sample.clamp(-config_.clip_sample_range, config_.clip_sample_range);
  }

  at::Tensor derivative;
  at::Tensor dt;
  at::Tensor sample = sample_in;
  if (state_in_first_order()) {
    // 2. convert to an ODE derivative for 1st order
    derivative = (sample - pred_original_sample) / sigma_hat;
    // 3. delta timestep
    dt = sigma_next - sigma_hat;
    // store for 2nd order step
    prev_derivative_ = derivative;
    dt_ = dt;
    sample_ = sample;
  } else {
    // 2. 2nd order / Heun's method
    derivative = (sample - pred_original_sample) / sigma_next;
    derivative = (prev_derivative_ + derivative) / 2;
    // 3. take prev timestep & sample
    dt = dt_;
    sample = sample_;
    // free dt and derivative: back to "first order mode"
    prev_derivative_ = at::Tensor();
    dt_ = at::Tensor();
    sample_ = at::Tensor();
  }

  at::Tensor prev_sample = sample + derivative * dt;
  *step_index_ += 1;
  return {prev_sample, {}};
}

}  // namespace sdw
