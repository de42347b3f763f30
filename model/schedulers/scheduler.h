// The scheduler interface shared by every sampler (a port of diffusers' SchedulerMixin surface):
// timesteps, init noise sigma, scale_model_input, step, add_noise. The pipeline owns the
// classifier-free guidance loop; a scheduler only sees the guided model output.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sdw {

class SchedulerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SchedulerStepOutput {
  at::Tensor prev_sample;           // x_{t-1}
  at::Tensor pred_original_sample;  // x_0 estimate (denoised), undefined where a scheduler has none
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // diffusers class name, e.g. "EulerDiscreteScheduler".
  virtual std::string class_name() const = 0;
  // Prepares the schedule for `num_inference_steps`; resets step index and multistep state.
  virtual void set_timesteps(int num_inference_steps) = 0;
  // Timesteps to run, one per model call (Heun and PNDM repeat entries). dtype as in diffusers
  // v0.30.3: float32 for Euler, Euler a and Heun; int64 for DDIM, DDPM, PNDM, LCM, DPM-Solver and
  // UniPC (the multistep solvers round their timesteps). Undefined before set_timesteps.
  virtual at::Tensor timesteps() const = 0;
  // Sigmas where the scheduler has them (undefined tensor otherwise).
  virtual at::Tensor sigmas() const { return {}; }
  virtual double init_noise_sigma() const { return 1.0; }
  // Model evaluations per step of the solver (2 for Heun; 1 otherwise).
  virtual int order() const { return 1; }

  // For img2img: start at this index of timesteps() (diffusers' set_begin_index).
  virtual void set_begin_index(int64_t begin_index) = 0;

  // Input scaling before the model call at `timestep` (a value of timesteps()).
  virtual at::Tensor scale_model_input(const at::Tensor& sample, double timestep) = 0;
  // One solver step. `generator` feeds stochastic samplers (CPU float32 draws, as diffusers'
  // randn_tensor with a CPU generator); may be undefined for deterministic ones.
  virtual SchedulerStepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                                   std::optional<at::Generator> generator) = 0;
  // Forward-diffuses clean samples to `timestep` (img2img, inpaint).
  virtual at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const = 0;

  // The effective configuration (all keys of the diffusers class, with values in use).
  virtual nlohmann::json config() const = 0;

  // The training schedule's alphas_cumprod [num_train_timesteps] float32 (undefined where a
  // scheduler has none; all ported ones have it).
  virtual at::Tensor alphas_cumprod() const { return {}; }
  // DDIM's `eta` (weight of the noise added per step; 0 = deterministic, the pipelines' default).
  // diffusers passes eta only to schedulers whose step takes it: the others ignore it.
  virtual void set_eta(double /*eta*/) {}
};

// diffusers' img2img `get_timesteps` (StableDiffusionImg2ImgPipeline, v0.30.3), after
// `scheduler.set_timesteps(num_inference_steps)` (called here):
//   init_timestep = min(int(steps * strength), steps); t_start = max(steps - init_timestep, 0)
//   timesteps = scheduler.timesteps[t_start * order:]; scheduler.set_begin_index(t_start * order)
// Returns (the timesteps to run, t_start * order). strength must be in [0, 1]. PNDM/DDIM/DDPM step
// by timestep value and have no begin index in diffusers: for them set_begin_index is a no-op.
std::pair<at::Tensor, int64_t> img2img_timesteps(Scheduler& scheduler, int num_inference_steps, double strength);

// Names users pass: ddim, pndm, ddpm, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, heun, lcm, unipc,
// plus the A1111 display names ("Euler a", "DPM++ 2M Karras", ...) and diffusers class names.
// Returns the canonical short name; throws SchedulerError listing the valid names otherwise.
// "flow_match_euler" (FlowMatchEulerDiscreteScheduler) is canonical too but not in scheduler_names():
// SD3 models run it whatever they are asked (also for "euler", A1111's Euler), others refuse it.
std::string canonical_scheduler_name(const std::string& name);
std::vector<std::string> scheduler_names();

// Builds the scheduler of the diffusers `scheduler_config.json` content (by its `_class_name`).
std::unique_ptr<Scheduler> make_scheduler(const nlohmann::json& scheduler_config);
// Builds the scheduler `name` from a model's scheduler config with diffusers' from_config
// semantics: keys listed in the config's `_use_default_values` are dropped, keys the class does not
// know are ignored, and the name's own overrides (e.g. use_karras_sigmas) are applied.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const nlohmann::json& model_scheduler_config);

}  // namespace sdw
