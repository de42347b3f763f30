// Port of diffusers' DDIMScheduler (schedulers/scheduling_ddim.py, v0.30.3): denoising diffusion
// implicit models (arXiv:2010.02502), deterministic for eta = 0.
#pragma once

#include "model/schedulers/scheduler_common.h"

namespace sdw {

class DdimScheduler : public TimestepValueScheduler {
 public:
  explicit DdimScheduler(SchedulerConfig config);

  std::string class_name() const override { return "DDIMScheduler"; }
  // Draws one noise tensor only when eta > 0.
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;
  void set_eta(double eta) override;

 private:
  // sigma_t^2 of formula (16): (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
  at::Tensor variance(int64_t timestep, int64_t prev_timestep) const;

  at::Tensor final_alpha_cumprod_;  // 0-dim: 1 (set_alpha_to_one) or alphas_cumprod[0]
  double eta_ = 0.0;
};

}  // namespace sdw
