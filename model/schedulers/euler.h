// Port of diffusers' EulerDiscreteScheduler (schedulers/scheduling_euler_discrete.py, v0.30.3):
// Euler's method (Algorithm 2 of Karras et al. 2022, arXiv:2206.00364) on the k-diffusion sigma
// schedule, after crowsonkb's k-diffusion.
#pragma once

#include <limits>

#include "model/schedulers/sigma_scheduler.h"

namespace sdw {

class EulerScheduler : public DiscreteSigmaScheduler {
 public:
  explicit EulerScheduler(SchedulerConfig config);

  std::string class_name() const override { return "EulerDiscreteScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  // Draws one noise tensor every step (diffusers does, although s_churn = 0 multiplies it by 0).
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;

  // k-diffusion's churn parameters of step() (diffusers' defaults: no churn).
  void set_churn(double s_churn, double s_tmin, double s_tmax, double s_noise);

 private:
  double s_churn_ = 0.0;
  double s_tmin_ = 0.0;
  double s_tmax_ = std::numeric_limits<double>::infinity();
  double s_noise_ = 1.0;
};

}  // namespace sdw
