// Port of diffusers' DPMSolverMultistepScheduler (schedulers/scheduling_dpmsolver_multistep.py,
// v0.30.3): multistep DPM-Solver++ (arXiv:2211.01095) and DPM-Solver (arXiv:2206.00927), orders
// 1-3, midpoint/heun second-order variants, optional Karras or Lu sigmas. As "dpmpp_2m" /
// "dpmpp_2m_karras" it runs algorithm_type dpmsolver++ with solver_order 2 (A1111's DPM++ 2M).
// The SDE variants (sde-dpmsolver, sde-dpmsolver++) are not ported.
#pragma once

#include "model/schedulers/sigma_scheduler.h"

namespace sdw {

class DpmSolverMultistepScheduler : public MultistepSigmaScheduler {
 public:
  explicit DpmSolverMultistepScheduler(SchedulerConfig config);

  std::string class_name() const override { return "DPMSolverMultistepScheduler"; }
  void set_timesteps(int num_inference_steps) override;
  SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                           std::optional<at::Generator> generator) override;

 private:
  // The model output as the data prediction x_0 (dpmsolver++) or the noise (dpmsolver).
  at::Tensor convert_model_output(const at::Tensor& model_output, const at::Tensor& sample) const;
  at::Tensor first_order_update(const at::Tensor& model_output, const at::Tensor& sample) const;
  at::Tensor second_order_update(const at::Tensor& sample) const;
  at::Tensor third_order_update(const at::Tensor& sample) const;
};

}  // namespace sdw
