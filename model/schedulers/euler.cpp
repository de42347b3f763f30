// Port of diffusers' EulerDiscreteScheduler (schedulers/scheduling_euler_discrete.py, v0.30.3).
#include "model/schedulers/euler.h"

#include <algorithm>
#include <cmath>

#include "model/schedulers/betas.h"
#include "model/schedulers/sigma_schedule.h"
#include "model/schedulers/timestep_spacing.h"

namespace sdw {

EulerScheduler::EulerScheduler(SchedulerConfig config) : DiscreteSigmaScheduler(std::move(config)) {
  alphas_cumprod_ = sched::make_alphas_cumprod(config_, /*clamp_last=*/true);
}

void EulerScheduler::set_churn(double s_churn, double s_tmin, double s_tmax, double s_noise) {
  s_churn_ = s_churn;
  s_tmin_ = s_tmin;
  s_tmax_ = s_tmax;
  s_noise_ = s_noise;
}

void EulerScheduler::set_timesteps(int num_inference_steps) {
  sched::check_num_inference_steps(config_, num_inference_steps);
  const int64_t n = num_inference_steps;
  num_inference_steps_ = n;

  // 1. timesteps (float32, as numpy computes them)
  std::vector<float> ts32 = sched::spaced_timesteps_float(config_, n);
  std::vector<double> timesteps(ts32.begin(), ts32.end());

  // 2. sigmas at those timesteps (numpy float64 on the float32 training sigmas)
  const std::vector<float> train = sched::train_sigmas(alphas_cumprod_);
  const std::vector<float> log_sigmas = sched::log_f32(train);
  std::vector<double> sigmas;
  if (config_.interpolation_type == "linear") {
    sigmas = sched::interp_sigmas(timesteps, train);
  } else {  // log_linear: torch.linspace(log(sigmas[-1]), log(sigmas[0]), n + 1).exp() (float32)
    at::Tensor s = at::linspace(std::log(static_cast<double>(train.back())), std::log(static_cast<double>(train.front())),
                                n + 1, at::TensorOptions().dtype(at::kFloat))
                       .exp()
                       .contiguous();
    sigmas.assign(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
  }
  if (config_.use_karras_sigmas) {
    const double sigma_min = config_.sigma_min ? *config_.sigma_min : sigmas.back();
    const double sigma_max = config_.sigma_max ? *config_.sigma_max : sigmas.front();
    sigmas = sched::karras_sigmas(sigma_min, sigma_max, n);
    timesteps.clear();
    for (double s : sigmas) timesteps.push_back(sched::sigma_to_t(s, log_sigmas));
  }

  // 3. final sigma
  double sigma_last = 0.0;
  if (config_.final_sigmas_type == "sigma_min") {
    // ((1 - alphas_cumprod[0]) / alphas_cumprod[0]) ** 0.5, a float32 tensor
    sigma_last = static_cast<double>(train.front());
  }
  sigmas.push_back(sigma_last);
  sigmas_ = sched::to_f32_tensor(sigmas);  // [S + 1]

  if (config_.timestep_type == "continuous" && config_.prediction_type == "v_prediction") {
    // EDM-style continuous timesteps: 0.25 * log(sigma)
    at::Tensor s = sigmas_.slice(0, 0, -1);
    timesteps_ = (s.log() * 0.25).contiguous();  // [S]
  } else {
    timesteps_ = sched::to_f32_tensor(timesteps);  // [S]
  }
  reset_indices();
}

SchedulerStepOutput EulerScheduler::step(const at::Tensor& model_output, double timestep, const at::Tensor& sample_in,
                                         std::optional<at::Generator> generator) {
  begin_step(timestep);

  at::Tensor sigma = sigmas_[*step_index_];
  const double sigma_v = sigma.item<float>();
  const double gamma = (s_tmin_ <= sigma_v && sigma_v <= s_tmax_)
                           ? std::min(s_churn_ / static_cast<double>(sigmas_.size(0) - 1), std::sqrt(2.0) - 1)
                           : 0.0;

  at::Tensor noise = sched::randn_like_cpu(model_output, generator);
  at::Tensor eps = noise * s_noise_;
  at::Tensor sigma_hat = sigma * (gamma + 1);

  at::Tensor sample = sample_in;
  if (gamma > 0) sample = sample + eps * (sigma_hat.pow(2) - sigma.pow(2)).pow(0.5);

  // upcast to avoid precision issues when computing prev_sample
  sample = sample.to(at::kFloat);

  // 1. compute predicted original sample (x_0) from sigma-scaled predicted noise
  at::Tensor pred_original_sample;  // [B, C, H, W]
  const std::string& pt = config_.prediction_type;
  if (pt == "sample") {
    pred_original_sample = model_output;
  } else if (pt == "epsilon") {
    pred_original_sample = sample - sigma_hat * model_output;
  } else {  // v_prediction: model_output * c_out + input * c_skip
    pred_original_sample = model_output * (-sigma / (sigma.pow(2) + 1).pow(0.5)) + (sample / (sigma.pow(2) + 1));
  }

  // 2. convert to an ODE derivative
  at::Tensor derivative = (sample - pred_original_sample) / sigma_hat;
  at::Tensor dt = sigmas_[*step_index_ + 1] - sigma_hat;
  at::Tensor prev_sample = sample + derivative * dt;

  // cast sample back to model compatible dtype
  prev_sample = prev_sample.to(model_output.scalar_type());
  *step_index_ += 1;
  return {prev_sample, pred_original_sample};
}

}  // namespace sdw
