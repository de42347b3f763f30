// Scheduler configuration with diffusers' ConfigMixin semantics (v0.30.3): per-class __init__
// signatures with their defaults, `Cls.from_config(config, **overrides)` (extract_init_dict) and the
// typed view of every field the ported schedulers use.
#pragma once

#include "model/safetensors/diffusers_json.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sdw {

class Scheduler;

// Every field any of the ported schedulers reads, with the values in use. Fields a class does not
// have keep the values below and are ignored by it; `json` is the effective diffusers config.
struct SchedulerConfig {
  std::string class_name;

  // betas / schedule (all classes)
  int64_t num_train_timesteps = 1000;
  double beta_start = 0.0001;
  double beta_end = 0.02;
  std::string beta_schedule = "linear";
  std::optional<std::vector<double>> trained_betas;
  bool rescale_betas_zero_snr = false;
  std::string prediction_type = "epsilon";
  std::string timestep_spacing = "linspace";
  int64_t steps_offset = 0;

  // clipping / thresholding of x_0 (DDIM, DDPM, LCM, Heun; thresholding also DPM, UniPC)
  bool clip_sample = false;
  double clip_sample_range = 1.0;
  bool thresholding = false;
  double dynamic_thresholding_ratio = 0.995;
  double sample_max_value = 1.0;
  bool set_alpha_to_one = false;  // DDIM, PNDM, LCM

  bool skip_prk_steps = false;              // PNDM
  std::string variance_type = "fixed_small";  // DDPM ("" = None, DPM's default)

  // sigma schedules (Euler, Heun, DPM, UniPC)
  std::string interpolation_type = "linear";
  bool use_karras_sigmas = false;
  std::optional<double> sigma_min;
  std::optional<double> sigma_max;
  std::string timestep_type = "discrete";
  std::string final_sigmas_type = "zero";

  // multistep solvers (DPM, UniPC)
  int64_t solver_order = 2;
  std::string algorithm_type = "dpmsolver++";
  std::string solver_type = "midpoint";
  bool lower_order_final = true;
  bool euler_at_final = false;
  bool use_lu_lambdas = false;
  double lambda_min_clipped = -std::numeric_limits<double>::infinity();
  bool predict_x0 = true;
  std::vector<int64_t> disable_corrector;
  bool has_solver_p = false;

  // LCM
  int64_t original_inference_steps = 50;
  double timestep_scaling = 10.0;

  // FlowMatchEulerDiscreteScheduler (shift; dynamic shifting: mu from the image's token count)
  double shift = 1.0;
  bool use_dynamic_shifting = false;
  double base_shift = 0.5;
  double max_shift = 1.15;
  int64_t base_image_seq_len = 256;
  int64_t max_image_seq_len = 4096;

  // The effective config: every key of the class signature (value in use), `_use_default_values`
  // (signature keys left at their defaults, sorted), `_class_name`, and the hidden keys carried
  // over from the source config (e.g. `skip_prk_steps` on an Euler built from SD1.5's PNDM).
  nlohmann::json json;
};

// Known diffusers scheduler classes (those ported here).
const std::vector<std::string>& scheduler_class_names();

// The __init__ signature of `class_name` (keys in signature order with their defaults, JSON null
// for None; lambda_min_clipped is -inf). Throws SchedulerError for an unknown class.
const std::vector<std::pair<std::string, nlohmann::json>>& scheduler_signature(const std::string& class_name);

// diffusers' `Cls.from_config(config, **overrides)`: drops the keys listed in the config's
// `_use_default_values` (and that key), keeps only keys of the class signature (overrides win),
// fills the rest with the class defaults; unknown keys are ignored but kept as hidden keys.
// Validates the values (SchedulerError on a wrong type or an unsupported option).
SchedulerConfig scheduler_config_from(const std::string& class_name, const nlohmann::json& config,
                                      const nlohmann::json& overrides = nlohmann::json::object());

// Builds the scheduler of an already resolved config (its class_name). make_scheduler(json) is
// make_scheduler(scheduler_config_from(json["_class_name"], json)).
std::unique_ptr<Scheduler> make_scheduler(const SchedulerConfig& config);

// parse_diffusers_json (Python's Infinity/NaN tokens) lives in model/diffusers_json.h.

}  // namespace sdw
