// Port of diffusers' UniPCMultistepScheduler (schedulers/scheduling_unipc_multistep.py, v0.30.3):
// the unified predictor-corrector framework (arXiv:2302.04867), B(h) variants bh1/bh2, orders 1-3
// (diffusers' defaults: bh2, order 2, predict_x0). solver_p is not ported.
#pragma once

#include "model/schedulers/sigma_scheduler.h"

namespace sdw {

class UniPcScheduler : public MultistepSigmaScheduler {
 public:
  explicit UniPcScheduler(SchedulerConfig config);

  std::string class_name() const override { return "UniPCMultistepScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;

 private:
  at::Tensor convert_model_output(const at::Tensor& model_output, const at::Tensor& sample) const;
  // UniP: the predictor from the stored outputs (B(h) update).
  at::Tensor uni_p_bh_update(const at::Tensor& sample, int64_t order) const;
  // UniC: the corrected current sample, from the previous sample and the model output at the
  // current one (which replaces the predictor's estimate).
  at::Tensor uni_c_bh_update(const at::Tensor& this_model_output, const at::Tensor& last_sample, int64_t order) const;

  int64_t this_order_ = 0;
  at::Tensor last_sample_;
};

}  // namespace sdw
