// Port of diffusers' DDPMScheduler (schedulers/scheduling_ddpm.py, v0.30.3): ancestral sampling of
// denoising diffusion probabilistic models (arXiv:2006.11239).
#pragma once

#include "model/schedulers/scheduler_common.h"

namespace sdw {

class DdpmScheduler : public TimestepValueScheduler {
 public:
  explicit DdpmScheduler(SchedulerConfig config);

  std::string class_name() const override { return "DDPMScheduler"; }
  // Draws one noise tensor at every step with t > 0.
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;

 private:
  int64_t previous_timestep(int64_t timestep) const;
  // Posterior variance (formulas (6)-(7)) in the configured variance_type. 0-dim.
  at::Tensor variance(int64_t timestep) const;

  at::Tensor one_;  // 0-dim 1.0
};

}  // namespace sdw
