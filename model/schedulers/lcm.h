// Port of diffusers' LCMScheduler (schedulers/scheduling_lcm.py, v0.30.3): multistep latent
// consistency model sampling (arXiv:2310.04378). Timesteps come from the distillation schedule
// (original_inference_steps), not from timestep_spacing.
#pragma once

#include "model/schedulers/scheduler_common.h"

namespace sdw {

class LcmScheduler : public IndexedScheduler {
 public:
  explicit LcmScheduler(SchedulerConfig config);

  std::string class_name() const override { return "LCMScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  at::Tensor scale_model_input(const at::Tensor& sample, double /*timestep*/) override { return sample; }
  // pred_original_sample is LCM's `denoised` (what the LCM pipeline decodes). Draws one noise
  // tensor at every step except the last.
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const override;

 private:
  at::Tensor final_alpha_cumprod_;  // 0-dim
};

}  // namespace sdw
