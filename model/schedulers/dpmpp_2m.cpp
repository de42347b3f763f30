// Port of diffusers' DPMSolverMultistepScheduler (schedulers/scheduling_dpmsolver_multistep.py,
// v0.30.3), non-SDE algorithm types.
#include "model/schedulers/dpmpp_2m.h"

#include <cmath>

#include "model/schedulers/betas.h"
#include "model/schedulers/sigma_schedule.h"
#include "model/schedulers/timestep_spacing.h"

namespace sdw {

using sched::alpha_sigma_t;
using sched::lambda_of;

DpmSolverMultistepScheduler::DpmSolverMultistepScheduler(SchedulerConfig config)
    : MultistepSigmaScheduler(std::move(config)) {
  alphas_cumprod_ = sched::make_alphas_cumprod(config_, /*clamp_last=*/true);
}

void DpmSolverMultistepScheduler::set_timesteps(int num_inference_steps) {
  sched::check_num_inference_steps(config_, num_inference_steps);
  const int64_t n = num_inference_steps;
  const int64_t T = config_.num_train_timesteps;

  // Clipping the minimum of all lambda(t) for numerical stability (critical for cosine schedules):
  // clipped_idx = searchsorted(flip(lambda_t), lambda_min_clipped)
  at::Tensor alpha_t = at::sqrt(alphas_cumprod_);
  at::Tensor sigma_t = at::sqrt(1 - alphas_cumprod_);
  at::Tensor lambda_t = at::log(alpha_t) - at::log(sigma_t);  // [T]
  const int64_t clipped_idx =
      at::searchsorted(at::flip(lambda_t, {0}), at::Scalar(config_.lambda_min_clipped)).item<int64_t>();
  const int64_t last_timestep = T - clipped_idx;

  std::vector<int64_t> ts = sched::spaced_timesteps_multistep(config_, n, last_timestep);
  std::vector<double> timesteps(ts.begin(), ts.end());

  const std::vector<float> train = sched::train_sigmas(alphas_cumprod_);
  const std::vector<float> log_sigmas = sched::log_f32(train);
  std::vector<double> sigmas;
  if (config_.use_karras_sigmas) {
    // flip: descending; karras from sigma_max = train.back() to sigma_min = train.front()
    sigmas = sched::karras_sigmas(static_cast<double>(train.front()), static_cast<double>(train.back()), n);
    timesteps.clear();
    for (double s : sigmas) timesteps.push_back(sched::np_round(sched::sigma_to_t(s, log_sigmas)));
  } else if (config_.use_lu_lambdas) {
    // uniform logSNR: lambdas = linspace(log_sigmas[-1] .. log_sigmas[0]); sigmas = exp(lambdas)
    const double lambda_min = static_cast<double>(log_sigmas.front());
    const double lambda_max = static_cast<double>(log_sigmas.back());
    std::vector<double> ramp = sched::np_linspace(0, 1, n);
    for (double r : ramp) sigmas.push_back(std::exp(lambda_max + r * (lambda_min - lambda_max)));
    timesteps.clear();
    for (double s : sigmas) timesteps.push_back(sched::np_round(sched::sigma_to_t(s, log_sigmas)));
  } else {
    sigmas = sched::interp_sigmas(timesteps, train);
  }

  double sigma_last = 0.0;
  if (config_.final_sigmas_type == "sigma_min") {
    sigma_last = static_cast<double>(train.front());  // ((1 - a_0) / a_0) ** 0.5
  }
  sigmas.push_back(sigma_last);
  set_schedule(sigmas, timesteps);
}

at::Tensor DpmSolverMultistepScheduler::convert_model_output(const at::Tensor& model_output,
                                                             const at::Tensor& sample) const {
  const std::string& pt = config_.prediction_type;
  auto [alpha_t, sigma_t] = alpha_sigma_t(sigmas_[*step_index_]);
  // DPM-Solver++ solves an integral of the data prediction model.
  if (config_.algorithm_type == "dpmsolver++") return data_prediction(model_output, sample, alpha_t, sigma_t);
  // DPM-Solver solves an integral of the noise prediction model.
  at::Tensor epsilon;  // [B, C, H, W]
  if (pt == "epsilon") {
    epsilon = model_output;
  } else if (pt == "sample") {
    epsilon = (sample - alpha_t * model_output) / sigma_t;
  } else {  // v_prediction
    epsilon = alpha_t * model_output + sigma_t * sample;
  }
  if (config_.thresholding) {
    at::Tensor x0_pred = (sample - sigma_t * epsilon) / alpha_t;
    x0_pred = sched::threshold_sample(x0_pred, config_.dynamic_thresholding_ratio, config_.sample_max_value);
    epsilon = (sample - alpha_t * x0_pred) / sigma_t;
  }
  return epsilon;
}

at::Tensor DpmSolverMultistepScheduler::first_order_update(const at::Tensor& model_output,
                                                           const at::Tensor& sample) const {
  auto [alpha_t, sigma_t] = alpha_sigma_t(sigmas_[*step_index_ + 1]);
  auto [alpha_s, sigma_s] = alpha_sigma_t(sigmas_[*step_index_]);
  at::Tensor lambda_t = lambda_of(alpha_t, sigma_t);
  at::Tensor lambda_s = lambda_of(alpha_s, sigma_s);
  at::Tensor h = lambda_t - lambda_s;
  if (config_.algorithm_type == "dpmsolver++") {
    return (sigma_t / sigma_s) * sample - (alpha_t * (at::exp(-h) - 1.0)) * model_output;
  }
  return (alpha_t / alpha_s) * sample - (sigma_t * (at::exp(h) - 1.0)) * model_output;
}

at::Tensor DpmSolverMultistepScheduler::second_order_update(const at::Tensor& sample) const {
  auto [alpha_t, sigma_t] = alpha_sigma_t(sigmas_[*step_index_ + 1]);
  auto [alpha_s0, sigma_s0] = alpha_sigma_t(sigmas_[*step_index_]);
  auto [alpha_s1, sigma_s1] = alpha_sigma_t(sigmas_[*step_index_ - 1]);
  at::Tensor lambda_t = lambda_of(alpha_t, sigma_t);
  at::Tensor lambda_s0 = lambda_of(alpha_s0, sigma_s0);
  at::Tensor lambda_s1 = lambda_of(alpha_s1, sigma_s1);

  const size_t k = model_outputs_.size();
  const at::Tensor& m0 = model_outputs_[k - 1];
  const at::Tensor& m1 = model_outputs_[k - 2];
  at::Tensor h = lambda_t - lambda_s0;
  at::Tensor h_0 = lambda_s0 - lambda_s1;
  at::Tensor r0 = h_0 / h;
  const at::Tensor& D0 = m0;
  at::Tensor D1 = sched::rdiv(1.0, r0) * (m0 - m1);

  if (config_.algorithm_type == "dpmsolver++") {
    // see arXiv:2211.01095 for the derivations
    if (config_.solver_type == "midpoint") {
      return (sigma_t / sigma_s0) * sample - (alpha_t * (at::exp(-h) - 1.0)) * D0 -
             0.5 * (alpha_t * (at::exp(-h) - 1.0)) * D1;
    }
    return (sigma_t / sigma_s0) * sample - (alpha_t * (at::exp(-h) - 1.0)) * D0 +
           (alpha_t * ((at::exp(-h) - 1.0) / h + 1.0)) * D1;
  }
  // dpmsolver, see arXiv:2206.00927
  if (config_.solver_type == "midpoint") {
    return (alpha_t / alpha_s0) * sample - (sigma_t * (at::exp(h) - 1.0)) * D0 -
           0.5 * (sigma_t * (at::exp(h) - 1.0)) * D1;
  }
  return (alpha_t / alpha_s0) * sample - (sigma_t * (at::exp(h) - 1.0)) * D0 -
         (sigma_t * ((at::exp(h) - 1.0) / h - 1.0)) * D1;
}

at::Tensor DpmSolverMultistepScheduler::third_order_update(const at::Tensor& sample) const {
  auto [alpha_t, sigma_t] = alpha_sigma_t(sigmas_[*step_index_ + 1]);
  auto [alpha_s0, sigma_s0] = alpha_sigma_t(sigmas_[*step_index_]);
  auto [alpha_s1, sigma_s1] = alpha_sigma_t(sigmas_[*step_index_ - 1]);
  auto [alpha_s2, sigma_s2] = alpha_sigma_t(sigmas_[*step_index_ - 2]);
  at::Tensor lambda_t = lambda_of(alpha_t, sigma_t);
  at::Tensor lambda_s0 = lambda_of(alpha_s0, sigma_s0);
  at::Tensor lambda_s1 = lambda_of(alpha_s1, sigma_s1);
  at::Tensor lambda_s2 = lambda_of(alpha_s2, sigma_s2);

  const size_t k = model_outputs_.size();
  const at::Tensor& m0 = model_outputs_[k - 1];
  const at::Tensor& m1 = model_outputs_[k - 2];
  const at::Tensor& m2 = model_outputs_[k - 3];
  at::Tensor h = lambda_t - lambda_s0;
  at::Tensor h_0 = lambda_s0 - lambda_s1;
  at::Tensor h_1 = lambda_s1 - lambda_s2;
  at::Tensor r0 = h_0 / h;
  at::Tensor r1 = h_1 / h;
  const at::Tensor& D0 = m0;
  at::Tensor D1_0 = sched::rdiv(1.0, r0) * (m0 - m1);
  at::Tensor D1_1 = sched::rdiv(1.0, r1) * (m1 - m2);
  at::Tensor D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1);
  at::Tensor D2 = sched::rdiv(1.0, r0 + r1) * (D1_0 - D1_1);
  if (config_.algorithm_type == "dpmsolver++") {
    return (sigma_t / sigma_s0) * sample - (alpha_t * (at::exp(-h) - 1.0)) * D0 +
           (alpha_t * ((at::exp(-h) - 1.0) / h + 1.0)) * D1 -
           (alpha_t * ((at::exp(-h) - 1.0 + h) / h.pow(2) - 0.5)) * D2;
  }
  return (alpha_t / alpha_s0) * sample - (sigma_t * (at::exp(h) - 1.0)) * D0 -
         (sigma_t * ((at::exp(h) - 1.0) / h - 1.0)) * D1 - (sigma_t * ((at::exp(h) - 1.0 - h) / h.pow(2) - 0.5)) * D2;
}

SchedulerStepOutput DpmSolverMultistepScheduler::step(const at::Tensor& model_output, double timestep,
                                                      const at::Tensor& sample_in,
                                                      std::optional<at::Generator> /*generator*/) {
  begin_step(timestep);
  const int64_t n = timesteps_.size(0);

  // Improve numerical stability for small number of steps
  const bool lower_order_final =
      (*step_index_ == n - 1) && (config_.euler_at_final || (config_.lower_order_final && n < 15) ||
                                  config_.final_sigmas_type == "zero");
  const bool lower_order_second = (*step_index_ == n - 2) && config_.lower_order_final && n < 15;

  at::Tensor converted = convert_model_output(model_output, sample_in);
  push_model_output(converted);

  // upcast to avoid precision issues when computing prev_sample
  at::Tensor sample = sample_in.to(at::kFloat);
  at::Tensor prev_sample;
  if (config_.solver_order == 1 || lower_order_nums_ < 1 || lower_order_final) {
    prev_sample = first_order_update(converted, sample);
  } else if (config_.solver_order == 2 || lower_order_nums_ < 2 || lower_order_second) {
    prev_sample = second_order_update(sample);
  } else {
    prev_sample = third_order_update(sample);
  }
  if (lower_order_nums_ < config_.solver_order) lower_order_nums_ += 1;

  // cast sample back to expected dtype
  prev_sample = prev_sample.to(converted.scalar_type());
  *step_index_ += 1;
  return {prev_sample, {}};
}

}  // namespace sdw
