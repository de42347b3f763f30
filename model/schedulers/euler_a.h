// Port of diffusers' EulerAncestralDiscreteScheduler
// (schedulers/scheduling_euler_ancestral_discrete.py, v0.30.3): ancestral sampling with Euler
// steps, after crowsonkb's k-diffusion (sample_euler_ancestral).
#pragma once

#include "model/schedulers/sigma_scheduler.h"

namespace sdw {

class EulerAncestralScheduler : public DiscreteSigmaScheduler {
 public:
  explicit EulerAncestralScheduler(SchedulerConfig config);

  std::string class_name() const override { return "EulerAncestralDiscreteScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  // Draws one noise tensor every step, the last included (where sigma_up = 0).
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;
};

}  // namespace sdw
