// Pieces shared by the scheduler ports (diffusers v0.30.3): Python-operator semantics on 0-dim
// tensors, randn_tensor, dynamic thresholding, alphas_cumprod add_noise, and the bases of the
// schedulers that step by timestep value (DDIM, DDPM, PNDM) or by index (`_step_index`,
// `_begin_index`, index_for_timestep).
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "model/schedulers/scheduler.h"
#include "model/schedulers/scheduler_config.h"

namespace sdw::sched {

// Python's `a / t` for a float `a` and a tensor `t`: Tensor.__rtruediv__ is `t.reciprocal() * a`,
// which can differ from `a / t` in the last bit.
inline at::Tensor rdiv(double a, const at::Tensor& t) { return t.reciprocal() * a; }

// diffusers' randn_tensor with a CPU generator: a CPU float32 draw of `like`'s shape, then moved to
// `like`'s dtype and device (every scheduler draw here; float32 keeps the reference stream).
at::Tensor randn_like_cpu(const at::Tensor& like, const std::optional<at::Generator>& generator);

// diffusers' _threshold_sample (dynamic thresholding, Imagen): per-sample quantile clamp. [B, ...]
at::Tensor threshold_sample(const at::Tensor& sample, double ratio, double max_value);

// `timestep` as an integer timestep of an int64 schedule (throws unless integral and in range).
int64_t int_timestep(const std::string& cls, double timestep, int64_t num_train_timesteps);

// add_noise of the alphas_cumprod schedulers (DDIM, DDPM, PNDM, LCM):
// sqrt(a_t) * original + sqrt(1 - a_t) * noise.
at::Tensor add_noise_alphas(const at::Tensor& alphas_cumprod, const at::Tensor& original, const at::Tensor& noise,
                            int64_t timestep);

// Values of a 1-D int64 or float32 tensor as doubles.
std::vector<double> tensor_values(const at::Tensor& t);

}  // namespace sdw::sched

namespace sdw {

// Base of every ported scheduler: the diffusers config, the training alphas_cumprod and the
// timesteps of set_timesteps.
class ConfiguredScheduler : public Scheduler {
 public:
  at::Tensor timesteps() const override { return timesteps_; }
  nlohmann::json config() const override { return config_.json; }
  at::Tensor alphas_cumprod() const override { return alphas_cumprod_; }

 protected:
  explicit ConfiguredScheduler(SchedulerConfig config) : config_(std::move(config)) {}

  // Throws SchedulerError when set_timesteps has not run.
  void require_timesteps(const char* what) const;

  SchedulerConfig config_;
  at::Tensor alphas_cumprod_;  // [T] float32
  at::Tensor timesteps_;       // [S]
  std::optional<int64_t> num_inference_steps_;
};

// Base of the schedulers that find their step by timestep value (DDIM, DDPM, PNDM): diffusers
// gives them no begin index and no input scaling, and they add noise by alphas_cumprod[t].
class TimestepValueScheduler : public ConfiguredScheduler {
 public:
  // The int64 timesteps of timestep_spacing (DDIM, DDPM).
  void set_timesteps(int num_inference_steps) override;
  // No begin index: img2img steps by the value of the first timestep it runs.
  void set_begin_index(int64_t /*begin_index*/) override {}
  at::Tensor scale_model_input(const at::Tensor& sample, double /*timestep*/) override { return sample; }
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const override;

 protected:
  // alphas_cumprod_ of the config's betas (last entry not clamped).
  explicit TimestepValueScheduler(SchedulerConfig config);

  // `timestep` as an index of alphas_cumprod (throws unless integral and in range).
  int64_t train_timestep(double timestep) const;
};

// Base of the schedulers that walk their schedule by index (Euler, Euler a, Heun, DPM-Solver,
// UniPC, LCM): diffusers' `_step_index` / `_begin_index`.
class IndexedScheduler : public ConfiguredScheduler {
 public:
  void set_begin_index(int64_t begin_index) override;

 protected:
  explicit IndexedScheduler(SchedulerConfig config) : ConfiguredScheduler(std::move(config)) {}

  // index_for_timestep: position of `timestep` in timesteps(), the second match when it repeats
  // (so that img2img starting inside Heun's pairs does not skip a sigma). A timestep not in the
  // schedule is the last index where `missing_is_last` (DPM, UniPC), an error otherwise.
  int64_t index_for_timestep(double timestep, bool missing_is_last) const;
  // _init_step_index: begin_index when set, otherwise the index of `timestep`.
  void init_step_index(double timestep, bool missing_is_last);
  // The schedule index add_noise uses: by timestep without a begin index, the current step after
  // the first step (inpainting), the begin index before it (img2img).
  int64_t add_noise_index(double timestep, bool missing_is_last) const;
  // Clears step and begin index (set_timesteps).
  void reset_indices();

  std::optional<int64_t> step_index_;
  std::optional<int64_t> begin_index_;
};

}  // namespace sdw
