// Port of diffusers' PNDMScheduler (schedulers/scheduling_pndm.py, v0.30.3): pseudo numerical
// methods for diffusion models (arXiv:2202.09778). With skip_prk_steps (Stable Diffusion's
// config) this is crowsonkb's PLMS: a linear multistep method with one warm-up repeat of the
// second timestep; without it, the Runge-Kutta warm-up (F-PNDM) runs first.
#pragma once

#include <vector>

#include "model/schedulers/scheduler_common.h"

namespace sdw {

class PndmScheduler : public TimestepValueScheduler {
 public:
  explicit PndmScheduler(SchedulerConfig config);

  std::string class_name() const override { return "PNDMScheduler"; }
  // timesteps(): [S + 1] int64 with skip_prk_steps (the second timestep repeats). PNDM counts its
  // calls: img2img (no begin index) starts the counter at the first timestep it runs.
  void set_timesteps(int num_inference_steps) override;
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;

 private:
  at::Tensor step_prk(const at::Tensor& model_output, int64_t timestep, const at::Tensor& sample);
  at::Tensor step_plms(const at::Tensor& model_output, int64_t timestep, const at::Tensor& sample);
  // Formula (9) of the PNDM paper: x_{t-delta} from x_t and the (combined) noise estimate.
  at::Tensor prev_sample(const at::Tensor& sample, int64_t timestep, int64_t prev_timestep,
                         at::Tensor model_output) const;

  at::Tensor final_alpha_cumprod_;  // 0-dim
  int64_t num_prk_timesteps_ = 0;
  // running values
  at::Tensor cur_model_output_;  // RK accumulator (prk)
  at::Tensor cur_sample_;
  std::vector<at::Tensor> ets_;  // past noise estimates, at most 4
  int64_t counter_ = 0;
};

}  // namespace sdw
