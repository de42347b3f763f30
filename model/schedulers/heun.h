// Port of diffusers' HeunDiscreteScheduler (schedulers/scheduling_heun_discrete.py, v0.30.3):
// Heun's second-order method (Algorithm 1 of Karras et al. 2022, arXiv:2206.00364). Every
// timestep but the first appears twice in timesteps() and step() is called for each: the first
// call takes an Euler step, the second corrects it with the averaged derivative.
#pragma once

#include "model/schedulers/sigma_scheduler.h"

namespace sdw {

class HeunScheduler : public DiscreteSigmaScheduler {
 public:
  explicit HeunScheduler(SchedulerConfig config);

  std::string class_name() const override { return "HeunDiscreteScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  int order() const override { return 2; }
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;

 private:
  bool state_in_first_order() const { return !dt_.defined(); }

  // sigmas(): [2S] float32: s0, s1, s1, ..., s_{S-1}, s_{S-1}, 0
  // state between the two calls of one step
  at::Tensor prev_derivative_;
  at::Tensor dt_;
  at::Tensor sample_;
};

}  // namespace sdw
