// Port of diffusers' EulerAncestralDiscreteScheduler
// (schedulers/scheduling_euler_ancestral_discrete.py, v0.30.3).
#include "model/schedulers/euler_a.h"

#include "model/schedulers/betas.h"
#include "model/schedulers/sigma_schedule.h"
#include "model/schedulers/timestep_spacing.h"

namespace sdw {

EulerAncestralScheduler::EulerAncestralScheduler(SchedulerConfig config)
    : DiscreteSigmaScheduler(std::move(config)) {
  alphas_cumprod_ = sched::make_alphas_cumprod(config_, /*clamp_last=*/true);
}

void EulerAncestralScheduler::set_timesteps(int num_inference_steps) {
  sched::check_num_inference_steps(config_, num_inference_steps);
  num_inference_steps_ = num_inference_steps;
  std::vector<float> ts32 = sched::spaced_timesteps_float(config_, num_inference_steps);
  std::vector<double> timesteps(ts32.begin(), ts32.end());
  std::vector<double> sigmas = sched::interp_sigmas(timesteps, sched::train_sigmas(alphas_cumprod_));
  sigmas.push_back(0.0);
  sigmas_ = sched::to_f32_tensor(sigmas);      // [S + 1]
  timesteps_ = sched::to_f32_tensor(ts32);     // [S]
  reset_indices();
}

SchedulerStepOutput EulerAncestralScheduler::step(const at::Tensor& model_output, double timestep,
                                                  const at::Tensor& sample_in, std::optional<at::Generator> generator) {
  begin_step(timestep);
  at::Tensor sigma = sigmas_[*step_index_];

  // upcast to avoid precision issues when computing prev_sample
  at::Tensor sample = sample_in.to(at::kFloat);

  // 1. compute predicted original sample (x_0) from sigma-scaled predicted noise
  at::Tensor pred_original_sample;  // [B, C, H, W]
  if (config_.prediction_type == "epsilon") {
    pred_original_sample = sample - sigma * model_output;
  } else {  // v_prediction: model_output * c_out + input * c_skip
    pred_original_sample = model_output * (-sigma / (sigma.pow(2) + 1).pow(0.5)) + (sample / (sigma.pow(2) + 1));
  }

  at::Tensor sigma_from = sigmas_[*step_index_];
  at::Tensor sigma_to = sigmas_[*step_index_ + 1];
  at::Tensor sigma_up = (sigma_to.pow(2) * (sigma_from.pow(2) - sigma_to.pow(2)) / sigma_from.pow(2)).pow(0.5);
  at::Tensor sigma_down = (sigma_to.pow(2) - sigma_up.pow(2)).pow(0.5);

  // 2. convert to an ODE derivative
  at::Tensor derivative = (sample - pred_original_sample) / sigma;
  at::Tensor dt = sigma_down - sigma;
  at::Tensor prev_sample = sample + derivative * dt;

  at::Tensor noise = sched::randn_like_cpu(model_output, generator);
  prev_sample = prev_sample + noise * sigma_up;

  // cast sample back to model compatible dtype
  prev_sample = prev_sample.to(model_output.scalar_type());
  *step_index_ += 1;
  return {prev_sample, pred_original_sample};
}

}  // namespace sdw
