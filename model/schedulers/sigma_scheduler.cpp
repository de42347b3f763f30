// The sigma-based scheduler bases (see sigma_scheduler.h): the shared parts of diffusers'
// Euler/Euler a/Heun discrete and DPM-Solver/UniPC multistep schedulers (v0.30.3).
#include "model/schedulers/sigma_scheduler.h"

#include <algorithm>

#include "model/schedulers/sigma_schedule.h"

namespace sdw::sched {

std::pair<at::Tensor, at::Tensor> alpha_sigma_t(const at::Tensor& sigma) {
  at::Tensor alpha_t = rdiv(1, (sigma.pow(2) + 1).pow(0.5));
  return {alpha_t, sigma * alpha_t};
}

at::Tensor lambda_of(const at::Tensor& alpha, const at::Tensor& sigma) { return at::log(alpha) - at::log(sigma); }

}  // namespace sdw::sched

namespace sdw {

// ---- SigmaScheduler

void SigmaScheduler::ensure_step_index(const char* what, double timestep) {
  require_timesteps(what);
  if (!step_index_) init_step_index(timestep, missing_is_last_);
}

void SigmaScheduler::begin_step(double timestep) {
  ensure_step_index("step()", timestep);
  if (*step_index_ + 1 >= sigmas_.size(0)) throw SchedulerError(class_name() + ": step() past the last timestep");
}

at::Tensor SigmaScheduler::add_noise_sigma(const at::Tensor& like, double timestep) const {
  return sigmas_.to(like.device(), like.scalar_type())[add_noise_index(timestep, missing_is_last_)];
}

// ---- DiscreteSigmaScheduler

double DiscreteSigmaScheduler::init_noise_sigma() const {
  at::Tensor max_sigma;
  if (sigmas_.defined()) {
    max_sigma = sigmas_.max();
  } else {
    std::vector<float> train = sched::train_sigmas(alphas_cumprod_);
    max_sigma = at::scalar_tensor(*std::max_element(train.begin(), train.end()), at::kFloat);
  }
  if (config_.timestep_spacing == "linspace" || config_.timestep_spacing == "trailing") return max_sigma.item<float>();
  return (max_sigma.pow(2) + 1).pow(0.5).item<float>();
}

at::Tensor DiscreteSigmaScheduler::scale_model_input(const at::Tensor& sample, double timestep) {
  ensure_step_index("scale_model_input()", timestep);
  at::Tensor sigma = sigmas_[*step_index_];
  return sample / (sigma.pow(2) + 1).pow(0.5);
}

at::Tensor DiscreteSigmaScheduler::add_noise(const at::Tensor& original, const at::Tensor& noise,
                                             double timestep) const {
  return original + noise * add_noise_sigma(original, timestep);  // [B, C, H, W]
}

// ---- MultistepSigmaScheduler

MultistepSigmaScheduler::MultistepSigmaScheduler(SchedulerConfig config) : SigmaScheduler(std::move(config), true) {
  model_outputs_.assign(static_cast<size_t>(config_.solver_order), at::Tensor());
}

void MultistepSigmaScheduler::set_schedule(const std::vector<double>& sigmas, const std::vector<double>& timesteps) {
  sigmas_ = sched::to_f32_tensor(sigmas);  // [S + 1]
  std::vector<int64_t> ts_int;
  for (double t : timesteps) ts_int.push_back(static_cast<int64_t>(t));
  timesteps_ = at::tensor(ts_int, at::kLong);  // [S]
  num_inference_steps_ = static_cast<int64_t>(ts_int.size());

  model_outputs_.assign(static_cast<size_t>(config_.solver_order), at::Tensor());
  lower_order_nums_ = 0;
  reset_indices();
}

at::Tensor MultistepSigmaScheduler::data_prediction(const at::Tensor& model_output, const at::Tensor& sample,
                                                    const at::Tensor& alpha_t, const at::Tensor& sigma_t) const {
  const std::string& pt = config_.prediction_type;
  at::Tensor x0_pred;  // [B, C, H, W]
  if (pt == "epsilon") {
    x0_pred = (sample - sigma_t * model_output) / alpha_t;
  } else if (pt == "sample") {
    x0_pred = model_output;
  } else {  // v_prediction
    x0_pred = alpha_t * sample - sigma_t * model_output;
  }
  if (config_.thresholding) {
    x0_pred = sched::threshold_sample(x0_pred, config_.dynamic_thresholding_ratio, config_.sample_max_value);
  }
  return x0_pred;
}

void MultistepSigmaScheduler::push_model_output(const at::Tensor& converted) {
  for (size_t i = 0; i + 1 < model_outputs_.size(); ++i) model_outputs_[i] = model_outputs_[i + 1];
  model_outputs_.back() = converted;
}

at::Tensor MultistepSigmaScheduler::add_noise(const at::Tensor& original, const at::Tensor& noise,
                                              double timestep) const {
  auto [alpha_t, sigma_t] = sched::alpha_sigma_t(add_noise_sigma(original, timestep));
  return alpha_t * original + sigma_t * noise;  // [B, C, H, W]
}

}  // namespace sdw
