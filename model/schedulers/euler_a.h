// Port of diffusers' EulerAncestralDiscreteScheduler
// (schedulers/scheduling_euler_ancestral_discrete.py, v0.30.3): ancestral sampling with Euler
// steps, after crowsonkb's k-diffusion (sample_euler_ancestral).
#pragma once

#include "model/schedulers/scheduler_common.h"

namespace sdw {

class EulerAncestralScheduler : public IndexedScheduler {
 public:
  explicit EulerAncestralScheduler(SchedulerConfig config);

  std::string class_name() const override { return "EulerAncestralDiscreteScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  at::Tensor sigmas() const override { return sigmas_; }
  double init_noise_sigma() const override;
  at::Tensor scale_model_input(const at::Tensor& sample, double timestep) override;
  // Draws one noise tensor every step, the last included (where sigma_up = 0).
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const override;

 private:
  at::Tensor sigmas_;  // [S + 1] float32, last = 0
};

}  // namespace sdw
