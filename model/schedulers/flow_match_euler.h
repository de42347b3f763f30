// Port of diffusers' FlowMatchEulerDiscreteScheduler (schedulers/
// scheduling_flow_match_euler_discrete.py, v0.30.3), SD3's scheduler: Euler steps of the
// rectified-flow ODE x_{i+1} = x_i + (sigma_{i+1} - sigma_i) * v on shifted sigmas
// (shift s: s * sigma / (1 + (s - 1) * sigma)), or on sigmas time-shifted by `mu` when
// use_dynamic_shifting (exp(mu) / (exp(mu) + 1 / sigma - 1)). No init noise sigma, no input
// scaling; add_noise is diffusers' scale_noise (sigma * noise + (1 - sigma) * x0).
#pragma once

#include <optional>

#include "model/schedulers/scheduler_common.h"

namespace sdw {

class FlowMatchEulerScheduler : public IndexedScheduler {
 public:
  explicit FlowMatchEulerScheduler(SchedulerConfig config);

  std::string class_name() const override { return "FlowMatchEulerDiscreteScheduler"; }
  // linspace(sigma_max, sigma_min) * T in float64 over the (already shifted) training sigmas, then
  // shifted again (or time-shifted by mu), float32; sigmas get a final 0. With
  // use_dynamic_shifting, set_mu (or set_mu_for_image_tokens) must come first.
  void set_timesteps(int num_inference_steps) override;
  at::Tensor sigmas() const override { return sigmas_; }
  at::Tensor scale_model_input(const at::Tensor& sample, double /*timestep*/) override { return sample; }
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;
  // scale_noise: sigma * noise + (1 - sigma) * original, sigma at the begin index (img2img) or at `timestep`.
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const override;

  // The shifted training sigmas [T] float32 (diffusers' scheduler.sigmas right after construction).
  at::Tensor train_sigmas() const { return train_sigmas_; }
  // set_timesteps' `mu` (use_dynamic_shifting only).
  void set_mu(double mu) { mu_ = mu; }
  // mu for `image_seq_len` latent tokens, diffusers' calculate_shift: linear from base_shift at
  // base_image_seq_len to max_shift at max_image_seq_len.
  double mu_for_image_tokens(int64_t image_seq_len) const;
  bool dynamic_shifting() const { return config_.use_dynamic_shifting; }

 private:
  at::Tensor train_sigmas_;  // [T] float32
  at::Tensor sigmas_;        // [N + 1] float32
  double sigma_min_ = 0, sigma_max_ = 1;
  std::optional<double> mu_;
};

}  // namespace sdw
