// Bases of the sigma-based schedulers (diffusers v0.30.3), which walk a sigma schedule by index:
// DiscreteSigmaScheduler is the k-diffusion form of Euler, Euler a and Heun (x + sigma * noise,
// input scaled by 1 / sqrt(sigma^2 + 1)); MultistepSigmaScheduler the VP form of DPM-Solver and
// UniPC (alpha_t * x + sigma_t * noise, unscaled input, a history of converted model outputs).
#pragma once

#include <utility>
#include <vector>

#include "model/schedulers/scheduler_common.h"

namespace sdw::sched {

// (alpha_t, sigma_t) of the VP schedule at k-diffusion sigma: 1 / sqrt(sigma^2 + 1), sigma * alpha_t.
std::pair<at::Tensor, at::Tensor> alpha_sigma_t(const at::Tensor& sigma);
// lambda_t = log(alpha_t) - log(sigma_t) (half the log-SNR).
at::Tensor lambda_of(const at::Tensor& alpha, const at::Tensor& sigma);

}  // namespace sdw::sched

namespace sdw {

class SigmaScheduler : public IndexedScheduler {
 public:
  at::Tensor sigmas() const override { return sigmas_; }

 protected:
  // `missing_is_last`: a timestep not in the schedule maps to the last index (DPM-Solver, UniPC)
  // instead of being an error (see IndexedScheduler::index_for_timestep).
  SigmaScheduler(SchedulerConfig config, bool missing_is_last)
      : IndexedScheduler(std::move(config)), missing_is_last_(missing_is_last) {}

  // require_timesteps(what), then the step index of `timestep` where none is set yet.
  void ensure_step_index(const char* what, double timestep);
  // step()'s preamble: ensure_step_index, and a SchedulerError when no sigma follows the current.
  void begin_step(double timestep);
  // add_noise's sigma (0-dim) in `like`'s dtype and device.
  at::Tensor add_noise_sigma(const at::Tensor& like, double timestep) const;

  at::Tensor sigmas_;  // [S + 1] float32 (Heun: [2S]), the last the final sigma
  bool missing_is_last_;
};

class DiscreteSigmaScheduler : public SigmaScheduler {
 public:
  // max sigma for linspace/trailing spacing, sqrt(max sigma^2 + 1) for leading (the training
  // sigmas before set_timesteps).
  double init_noise_sigma() const override;
  // sample / sqrt(sigma^2 + 1)
  at::Tensor scale_model_input(const at::Tensor& sample, double timestep) override;
  // original + noise * sigma
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const override;

 protected:
  explicit DiscreteSigmaScheduler(SchedulerConfig config) : SigmaScheduler(std::move(config), false) {}
};

class MultistepSigmaScheduler : public SigmaScheduler {
 public:
  at::Tensor scale_model_input(const at::Tensor& sample, double /*timestep*/) override { return sample; }
  // alpha_t * original + sigma_t * noise
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const override;

 protected:
  // The history holds config.solver_order outputs.
  explicit MultistepSigmaScheduler(SchedulerConfig config);

  // The end of set_timesteps: sigmas_ (with the final sigma), timesteps_ (truncated to int64),
  // num_inference_steps_, an empty history and cleared indices.
  void set_schedule(const std::vector<double>& sigmas, const std::vector<double>& timesteps);
  // The data prediction x_0 of the model output at (alpha_t, sigma_t), thresholded if configured.
  at::Tensor data_prediction(const at::Tensor& model_output, const at::Tensor& sample, const at::Tensor& alpha_t,
                             const at::Tensor& sigma_t) const;
  // Appends a converted model output to the history, dropping the oldest.
  void push_model_output(const at::Tensor& converted);

  std::vector<at::Tensor> model_outputs_;  // the last solver_order converted outputs, oldest first
  int64_t lower_order_nums_ = 0;
};

}  // namespace sdw
