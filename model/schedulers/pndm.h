// Port of diffusers' PNDMScheduler (schedulers/scheduling_pndm.py, v0.30.3): pseudo numerical
// methods for diffusion models (arXiv:2202.09778). With skip_prk_steps (Stable Diffusion's
// config) this is crowsonkb's PLMS: a linear multistep method with one warm-up repeat of the
// second timestep; without it, the Runge-Kutta warm-up (F-PNDM) runs first.
#pragma once

#include <vector>

#include "model/schedulers/scheduler.h"
#include "model/schedulers/scheduler_config.h"

namespace sdw {

class PndmScheduler : public Scheduler {
 public:
  explicit PndmScheduler(SchedulerConfig config);

  std::string class_name() const override { return "PNDMScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  // [S + 1] int64 with skip_prk_steps (the second timestep repeats), int64 always.
  at::Tensor timesteps() const override { return timesteps_; }
  // PNDM counts its calls: diffusers' PNDMScheduler has no begin index (img2img starts the
  // counter at the first timestep it runs).
  void set_begin_index(int64_t /*begin_index*/) override {}
  at::Tensor scale_model_input(const at::Tensor& sample, double /*timestep*/) override { return sample; }
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const override;
  nlohmann::json config() const override { return config_.json; }
  at::Tensor alphas_cumprod() const override { return alphas_cumprod_; }

 private:
  at::Tensor step_prk(const at::Tensor& model_output, int64_t timestep, const at::Tensor& sample);
  at::Tensor step_plms(const at::Tensor& model_output, int64_t timestep, const at::Tensor& sample);
  // Formula (9) of the PNDM paper: x_{t-delta} from x_t and the (combined) noise estimate.
  at::Tensor prev_sample(const at::Tensor& sample, int64_t timestep, int64_t prev_timestep,
                         at::Tensor model_output) const;

  SchedulerConfig config_;
  at::Tensor alphas_cumprod_;       // [T] float32
  at::Tensor final_alpha_cumprod_;  // 0-dim
  at::Tensor timesteps_;            // [S'] int64
  int64_t num_prk_timesteps_ = 0;
  std::optional<int64_t> num_inference_steps_;
  // running values
  at::Tensor cur_model_output_;  // RK accumulator (prk)
  at::Tensor cur_sample_;
  std::vector<at::Tensor> ets_;  // past noise estimates, at most 4
  int64_t counter_ = 0;
};

}  // namespace sdw
