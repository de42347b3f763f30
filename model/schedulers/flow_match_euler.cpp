// Port of diffusers' FlowMatchEulerDiscreteScheduler (see flow_match_euler.h), float32 and float64
// exactly where diffusers uses them.
#include "model/schedulers/flow_match_euler.h"

#include <cmath>

#include "model/schedulers/timestep_spacing.h"

namespace sdw {

FlowMatchEulerScheduler::FlowMatchEulerScheduler(SchedulerConfig config) : IndexedScheduler(std::move(config)) {
  const int64_t T = config_.num_train_timesteps;
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  // np.linspace(1, T, T, dtype=float32)[::-1] / T, in float32; shifted in float32 unless dynamic.
  std::vector<float> ts;
  for (double v : sched::np_linspace(1.0, static_cast<double>(T), T)) ts.push_back(static_cast<float>(v));
  at::Tensor timesteps = at::from_blob(ts.data(), {T}, f32).clone().flip(0);
  at::Tensor sigmas = timesteps / static_cast<double>(T);
  if (!config_.use_dynamic_shifting) {
    const double s = config_.shift;
    sigmas = s * sigmas / (1 + (s - 1) * sigmas);
  }
  train_sigmas_ = sigmas;
  timesteps_ = sigmas * static_cast<double>(T);  // the training timesteps (diffusers sets them too)
  sigma_min_ = sigmas[-1].item<float>();
  sigma_max_ = sigmas[0].item<float>();
}

double FlowMatchEulerScheduler::mu_for_image_tokens(int64_t image_seq_len) const {
  const auto& c = config_;
  const double m = (c.max_shift - c.base_shift) / static_cast<double>(c.max_image_seq_len - c.base_image_seq_len);
  const double b = c.base_shift - m * static_cast<double>(c.base_image_seq_len);
  return static_cast<double>(image_seq_len) * m + b;
}

void FlowMatchEulerScheduler::set_timesteps(int num_inference_steps) {
  if (num_inference_steps < 1) throw SchedulerError(class_name() + ": num_inference_steps must be >= 1");
  if (config_.use_dynamic_shifting && !mu_)
    throw SchedulerError(class_name() + ": use_dynamic_shifting needs mu (set_mu) before set_timesteps");
  const int64_t n = num_inference_steps;
  const double T = static_cast<double>(config_.num_train_timesteps);
  // 1. timesteps = np.linspace(sigma_max * T, sigma_min * T, n) in float64, sigmas = timesteps / T
  std::vector<double> sigmas = sched::np_linspace(sigma_max_ * T, sigma_min_ * T, n);
  for (double& s : sigmas) s /= T;
  // 2. shift again (float64), or time-shift by mu
  for (double& s : sigmas) {
    if (config_.use_dynamic_shifting) {
      s = std::exp(*mu_) / (std::exp(*mu_) + std::pow(1.0 / s - 1.0, 1.0));
    } else {
      s = config_.shift * s / (1 + (config_.shift - 1) * s);
    }
  }
  // 3. float32 sigmas, timesteps = sigmas * T (float32), a final sigma of 0
  std::vector<float> s32(sigmas.begin(), sigmas.end());
  at::Tensor s = at::from_blob(s32.data(), {n}, at::TensorOptions().dtype(at::kFloat)).clone();
  timesteps_ = s * static_cast<double>(config_.num_train_timesteps);
  sigmas_ = at::cat({s, at::zeros({1}, s.options())});
  num_inference_steps_ = n;
  reset_indices();
}

SchedulerStepOutput FlowMatchEulerScheduler::step(const at::Tensor& model_output, double timestep,
                                                  const at::Tensor& sample, std::optional<at::Generator> /*generator*/) {
  require_timesteps("step()");
  if (!step_index_) init_step_index(timestep, /*missing_is_last=*/false);
  const int64_t i = *step_index_;
  if (i + 1 >= sigmas_.size(0)) throw SchedulerError(class_name() + ": step() called after the last step");
  // prev = sample + (sigma_next - sigma) * model_output, in float32, back to the output's dtype.
  at::Tensor dt = (sigmas_[i + 1] - sigmas_[i]).to(model_output.device());
  at::Tensor prev = (sample.to(at::kFloat) + dt * model_output).to(model_output.scalar_type());
  step_index_ = i + 1;
  return {prev, at::Tensor()};
}

at::Tensor FlowMatchEulerScheduler::add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const {
  const int64_t i = add_noise_index(timestep, /*missing_is_last=*/false);
  at::Tensor sigma = sigmas_[i].to(original.device(), original.scalar_type());
  return sigma * noise + (1.0 - sigma) * original;
}

}  // namespace sdw
