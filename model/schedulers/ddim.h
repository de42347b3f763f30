// Port of diffusers' DDIMScheduler (schedulers/scheduling_ddim.py, v0.30.3): denoising diffusion
// implicit models (arXiv:2010.02502), deterministic for eta = 0.
#pragma once

#include "model/schedulers/scheduler.h"
#include "model/schedulers/scheduler_config.h"

namespace sdw {

class DdimScheduler : public Scheduler {
 public:
  explicit DdimScheduler(SchedulerConfig config);

  std::string class_name() const override { return "DDIMScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  at::Tensor timesteps() const override { return timesteps_; }
  // DDIM finds its step by timestep value: diffusers' DDIMScheduler has no begin index.
  void set_begin_index(int64_t /*begin_index*/) override {}
  at::Tensor scale_model_input(const at::Tensor& sample, double /*timestep*/) override { return sample; }
  // Draws one noise tensor only when eta > 0.
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const override;
  nlohmann::json config() const override { return config_.json; }
  at::Tensor alphas_cumprod() const override { return alphas_cumprod_; }
  void set_eta(double eta) override;

 private:
  // sigma_t^2 of formula (16): (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
  at::Tensor variance(int64_t timestep, int64_t prev_timestep) const;

  SchedulerConfig config_;
  at::Tensor alphas_cumprod_;       // [T] float32
  at::Tensor final_alpha_cumprod_;  // 0-dim: 1 (set_alpha_to_one) or alphas_cumprod[0]
  at::Tensor timesteps_;            // [S] int64
  std::optional<int64_t> num_inference_steps_;
  double eta_ = 0.0;
};

}  // namespace sdw
