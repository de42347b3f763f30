// Port of diffusers' DDPMScheduler (schedulers/scheduling_ddpm.py, v0.30.3): ancestral sampling of
// denoising diffusion probabilistic models (arXiv:2006.11239).
#pragma once

#include "model/schedulers/scheduler.h"
#include "model/schedulers/scheduler_config.h"

namespace sdw {

class DdpmScheduler : public Scheduler {
 public:
  explicit DdpmScheduler(SchedulerConfig config);

  std::string class_name() const override { return "DDPMScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  at::Tensor timesteps() const override { return timesteps_; }
  // DDPM steps by timestep value: diffusers' DDPMScheduler has no begin index.
  void set_begin_index(int64_t /*begin_index*/) override {}
  at::Tensor scale_model_input(const at::Tensor& sample, double /*timestep*/) override { return sample; }
  // Draws one noise tensor at every step with t > 0.
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const override;
  nlohmann::json config() const override { return config_.json; }
  at::Tensor alphas_cumprod() const override { return alphas_cumprod_; }

 private:
  int64_t previous_timestep(int64_t timestep) const;
  // Posterior variance (formulas (6)-(7)) in the configured variance_type. 0-dim.
  at::Tensor variance(int64_t timestep) const;

  SchedulerConfig config_;
  at::Tensor alphas_cumprod_;  // [T] float32
  at::Tensor one_;             // 0-dim 1.0
  at::Tensor timesteps_;       // [S] int64
  std::optional<int64_t> num_inference_steps_;
};

}  // namespace sdw
