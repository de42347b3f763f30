// Scheduler configuration: port of diffusers' ConfigMixin.from_config / extract_init_dict
// (configuration_utils.py, v0.30.3) for the scheduler classes ported here, with each class's
// __init__ defaults.
#include "model/schedulers/scheduler_config.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "model/schedulers/scheduler.h"

namespace sdw {
namespace {

using json = nlohmann::json;
using Signature = std::vector<std::pair<std::string, json>>;

const double kNegInf = -std::numeric_limits<double>::infinity();

// The betas part shared by every signature: num_train_timesteps, beta_start, beta_end,
// beta_schedule, trained_betas.
Signature betas_head(double beta_start, double beta_end, const char* schedule) {
  return {{"num_train_timesteps", 1000},
          {"beta_start", beta_start},
          {"beta_end", beta_end},
          {"beta_schedule", schedule},
          {"trained_betas", nullptr}};
}

Signature concat(Signature a, const Signature& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::map<std::string, Signature>& signatures() {
  static const std::map<std::string, Signature> table = {
      {"DDIMScheduler", concat(betas_head(0.0001, 0.02, "linear"),
                               {{"clip_sample", true},
                                {"set_alpha_to_one", true},
                                {"steps_offset", 0},
                                {"prediction_type", "epsilon"},
                                {"thresholding", false},
                                {"dynamic_thresholding_ratio", 0.995},
                                {"clip_sample_range", 1.0},
                                {"sample_max_value", 1.0},
                                {"timestep_spacing", "leading"},
                                {"rescale_betas_zero_snr", false}})},
      {"PNDMScheduler", concat(betas_head(0.0001, 0.02, "linear"),
                               {{"skip_prk_steps", false},
                                {"set_alpha_to_one", false},
                                {"prediction_type", "epsilon"},
                                {"timestep_spacing", "leading"},
                                {"steps_offset", 0}})},
      {"DDPMScheduler", concat(betas_head(0.0001, 0.02, "linear"),
                               {{"variance_type", "fixed_small"},
                                {"clip_sample", true},
                                {"prediction_type", "epsilon"},
                                {"thresholding", false},
                                {"dynamic_thresholding_ratio", 0.995},
                                {"clip_sample_range", 1.0},
                                {"sample_max_value", 1.0},
                                {"timestep_spacing", "leading"},
                                {"steps_offset", 0},
                                {"rescale_betas_zero_snr", false}})},
      {"EulerDiscreteScheduler", concat(betas_head(0.0001, 0.02, "linear"),
                                        {{"prediction_type", "epsilon"},
                                         {"interpolation_type", "linear"},
                                         {"use_karras_sigmas", false},
                                         {"sigma_min", nullptr},
                                         {"sigma_max", nullptr},
                                         {"timestep_spacing", "linspace"},
                                         {"timestep_type", "discrete"},
                                         {"steps_offset", 0},
                                         {"rescale_betas_zero_snr", false},
                                         {"final_sigmas_type", "zero"}})},
      {"EulerAncestralDiscreteScheduler", concat(betas_head(0.0001, 0.02, "linear"),
                                                 {{"prediction_type", "epsilon"},
                                                  {"timestep_spacing", "linspace"},
                                                  {"steps_offset", 0},
                                                  {"rescale_betas_zero_snr", false}})},
      {"DPMSolverMultistepScheduler", concat(betas_head(0.0001, 0.02, "linear"),
                                             {{"solver_order", 2},
                                              {"prediction_type", "epsilon"},
                                              {"thresholding", false},
                                              {"dynamic_thresholding_ratio", 0.995},
                                              {"sample_max_value", 1.0},
                                              {"algorithm_type", "dpmsolver++"},
                                              {"solver_type", "midpoint"},
                                              {"lower_order_final", true},
                                              {"euler_at_final", false},
                                              {"use_karras_sigmas", false},
                                              {"use_lu_lambdas", false},
                                              {"final_sigmas_type", "zero"},
                                              {"lambda_min_clipped", kNegInf},
                                              {"variance_type", nullptr},
                                              {"timestep_spacing", "linspace"},
                                              {"steps_offset", 0},
                                              {"rescale_betas_zero_snr", false}})},
      {"HeunDiscreteScheduler", concat(betas_head(0.00085, 0.012, "linear"),
                                       {{"prediction_type", "epsilon"},
                                        {"use_karras_sigmas", false},
                                        {"clip_sample", false},
                                        {"clip_sample_range", 1.0},
                                        {"timestep_spacing", "linspace"},
                                        {"steps_offset", 0}})},
      {"LCMScheduler", concat(betas_head(0.00085, 0.012, "scaled_linear"),
                              {{"original_inference_steps", 50},
                               {"clip_sample", false},
                               {"clip_sample_range", 1.0},
                               {"set_alpha_to_one", true},
                               {"steps_offset", 0},
                               {"prediction_type", "epsilon"},
                               {"thresholding", false},
                               {"dynamic_thresholding_ratio", 0.995},
                               {"sample_max_value", 1.0},
                               {"timestep_spacing", "leading"},
                               {"timestep_scaling", 10.0},
                               {"rescale_betas_zero_snr", false}})},
      // No betas: the flow-matching schedule is sigma = t / T (shifted).
      {"FlowMatchEulerDiscreteScheduler", {{"num_train_timesteps", 1000},
                                           {"shift", 1.0},
                                           {"use_dynamic_shifting", false},
                                           {"base_shift", 0.5},
                                           {"max_shift", 1.15},
                                           {"base_image_seq_len", 256},
                                           {"max_image_seq_len", 4096}}},
      {"UniPCMultistepScheduler", concat(betas_head(0.0001, 0.02, "linear"),
                                         {{"solver_order", 2},
                                          {"prediction_type", "epsilon"},
                                          {"thresholding", false},
                                          {"dynamic_thresholding_ratio", 0.995},
                                          {"sample_max_value", 1.0},
                                          {"predict_x0", true},
                                          {"solver_type", "bh2"},
                                          {"lower_order_final", true},
                                          {"disable_corrector", json::array()},
                                          {"solver_p", nullptr},
                                          {"use_karras_sigmas", false},
                                          {"timestep_spacing", "linspace"},
                                          {"steps_offset", 0},
                                          {"final_sigmas_type", "zero"},
                                          {"rescale_betas_zero_snr", false}})},
  };
  return table;
}

// ---- typed readers: a wrong type is a SchedulerError naming the key ----

[[noreturn]] void bad_value(const std::string& cls, const std::string& key, const json& v, const char* want) {
  throw SchedulerError(cls + ": config key '" + key + "' must be " + want + ", got " + v.dump());
}

double read_double(const std::string& cls, const std::string& key, const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "-Infinity" || s == "-inf") return kNegInf;
    if (s == "Infinity" || s == "inf") return -kNegInf;
    if (s == "NaN" || s == "nan") return std::nan("");
  }
  bad_value(cls, key, v, "a number");
}

int64_t read_int(const std::string& cls, const std::string& key, const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::floor(d) == d) return static_cast<int64_t>(d);
  }
  bad_value(cls, key, v, "an integer");
}

bool read_bool(const std::string& cls, const std::string& key, const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  bad_value(cls, key, v, "true or false");
}

std::string read_string(const std::string& cls, const std::string& key, const json& v, bool nullable) {
  if (v.is_string()) return v.get<std::string>();
  if (nullable && v.is_null()) return "";
  bad_value(cls, key, v, nullable ? "a string or null" : "a string");
}

std::optional<double> read_opt_double(const std::string& cls, const std::string& key, const json& v) {
  if (v.is_null()) return std::nullopt;
  return read_double(cls, key, v);
}

void check_one_of(const std::string& cls, const std::string& key, const std::string& value,
                  std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return;
    list += list.empty() ? "" : ", ";
    list += a;
  }
  throw SchedulerError(cls + ": " + key + " '" + value + "' is not supported (supported: " + list + ")");
}

// Reads every signature key of the class from the effective config into the typed struct.
void read_typed(SchedulerConfig& c) {
  const std::string& cls = c.class_name;
  const json& j = c.json;
  for (const auto& [key, _] : scheduler_signature(cls)) {
    const json& v = j.at(key);
    if (key == "num_train_timesteps") c.num_train_timesteps = read_int(cls, key, v);
    else if (key == "beta_start") c.beta_start = read_double(cls, key, v);
    else if (key == "beta_end") c.beta_end = read_double(cls, key, v);
    else if (key == "beta_schedule") c.beta_schedule = read_string(cls, key, v, false);
    else if (key == "trained_betas") {
      if (v.is_null()) {
        c.trained_betas.reset();
      } else if (v.is_array()) {
        std::vector<double> b;
        for (const auto& e : v) b.push_back(read_double(cls, key, e));
        c.trained_betas = std::move(b);
      } else {
        bad_value(cls, key, v, "null or a list of numbers");
      }
    } else if (key == "rescale_betas_zero_snr") c.rescale_betas_zero_snr = read_bool(cls, key, v);
    else if (key == "prediction_type") c.prediction_type = read_string(cls, key, v, false);
    else if (key == "timestep_spacing") c.timestep_spacing = read_string(cls, key, v, false);
    else if (key == "steps_offset") c.steps_offset = read_int(cls, key, v);
    else if (key == "clip_sample") c.clip_sample = read_bool(cls, key, v);
    else if (key == "clip_sample_range") c.clip_sample_range = read_double(cls, key, v);
    else if (key == "thresholding") c.thresholding = read_bool(cls, key, v);
    else if (key == "dynamic_thresholding_ratio") c.dynamic_thresholding_ratio = read_double(cls, key, v);
    else if (key == "sample_max_value") c.sample_max_value = read_double(cls, key, v);
    else if (key == "set_alpha_to_one") c.set_alpha_to_one = read_bool(cls, key, v);
    else if (key == "skip_prk_steps") c.skip_prk_steps = read_bool(cls, key, v);
    else if (key == "variance_type") c.variance_type = read_string(cls, key, v, true);
    else if (key == "interpolation_type") c.interpolation_type = read_string(cls, key, v, false);
    else if (key == "use_karras_sigmas") c.use_karras_sigmas = read_bool(cls, key, v);
    else if (key == "sigma_min") c.sigma_min = read_opt_double(cls, key, v);
    else if (key == "sigma_max") c.sigma_max = read_opt_double(cls, key, v);
    else if (key == "timestep_type") c.timestep_type = read_string(cls, key, v, false);
    else if (key == "final_sigmas_type") c.final_sigmas_type = read_string(cls, key, v, false);
    else if (key == "solver_order") c.solver_order = read_int(cls, key, v);
    else if (key == "algorithm_type") c.algorithm_type = read_string(cls, key, v, false);
    else if (key == "solver_type") c.solver_type = read_string(cls, key, v, false);
    else if (key == "lower_order_final") c.lower_order_final = read_bool(cls, key, v);
    else if (key == "euler_at_final") c.euler_at_final = read_bool(cls, key, v);
    else if (key == "use_lu_lambdas") c.use_lu_lambdas = read_bool(cls, key, v);
    else if (key == "lambda_min_clipped") c.lambda_min_clipped = v.is_null() ? kNegInf : read_double(cls, key, v);
    else if (key == "predict_x0") c.predict_x0 = read_bool(cls, key, v);
    else if (key == "disable_corrector") {
      if (!v.is_array()) bad_value(cls, key, v, "a list of step indices");
      c.disable_corrector.clear();
      for (const auto& e : v) c.disable_corrector.push_back(read_int(cls, key, e));
    } else if (key == "solver_p") c.has_solver_p = !v.is_null();
    else if (key == "original_inference_steps") c.original_inference_steps = read_int(cls, key, v);
    else if (key == "timestep_scaling") c.timestep_scaling = read_double(cls, key, v);
    else if (key == "shift") c.shift = read_double(cls, key, v);
    else if (key == "use_dynamic_shifting") c.use_dynamic_shifting = read_bool(cls, key, v);
    else if (key == "base_shift") c.base_shift = v.is_null() ? 0.5 : read_double(cls, key, v);
    else if (key == "max_shift") c.max_shift = v.is_null() ? 1.15 : read_double(cls, key, v);
    else if (key == "base_image_seq_len") c.base_image_seq_len = v.is_null() ? 256 : read_int(cls, key, v);
    else if (key == "max_image_seq_len") c.max_image_seq_len = v.is_null() ? 4096 : read_int(cls, key, v);
    else throw SchedulerError(cls + ": internal error, unhandled config key '" + key + "'");
  }
}

// Value checks that diffusers makes in __init__ / set_timesteps, made here so that a bad config
// fails when the scheduler is built.
void validate(SchedulerConfig& c) {
  const std::string& cls = c.class_name;
  if (c.num_train_timesteps < 2) throw SchedulerError(cls + ": num_train_timesteps must be >= 2");
  if (!c.trained_betas) {
    if (cls == "DDPMScheduler") {
      check_one_of(cls, "beta_schedule", c.beta_schedule, {"linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"});
    } else if (cls == "HeunDiscreteScheduler") {
      check_one_of(cls, "beta_schedule", c.beta_schedule, {"linear", "scaled_linear", "squaredcos_cap_v2", "exp"});
    } else {
      check_one_of(cls, "beta_schedule", c.beta_schedule, {"linear", "scaled_linear", "squaredcos_cap_v2"});
    }
  } else if (static_cast<int64_t>(c.trained_betas->size()) != c.num_train_timesteps) {
    throw SchedulerError(cls + ": trained_betas has " + std::to_string(c.trained_betas->size()) +
                         " entries, num_train_timesteps is " + std::to_string(c.num_train_timesteps));
  }
  check_one_of(cls, "timestep_spacing", c.timestep_spacing, {"linspace", "leading", "trailing"});
  if (cls == "PNDMScheduler" || cls == "EulerAncestralDiscreteScheduler") {
    check_one_of(cls, "prediction_type", c.prediction_type, {"epsilon", "v_prediction"});
  } else {
    check_one_of(cls, "prediction_type", c.prediction_type, {"epsilon", "v_prediction", "sample"});
  }
  if (cls == "DDPMScheduler") {
    check_one_of(cls, "variance_type", c.variance_type,
                 {"fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log"});
  }
  if (cls == "EulerDiscreteScheduler") {
    check_one_of(cls, "interpolation_type", c.interpolation_type, {"linear", "log_linear"});
    check_one_of(cls, "timestep_type", c.timestep_type, {"discrete", "continuous"});
    check_one_of(cls, "final_sigmas_type", c.final_sigmas_type, {"zero", "sigma_min"});
  }
  if (cls == "DPMSolverMultistepScheduler") {
    // diffusers maps the deprecated "deis" to dpmsolver++ and bh1/bh2/logrho to midpoint.
    if (c.algorithm_type == "deis") c.algorithm_type = "dpmsolver++";
    if (c.solver_type == "logrho" || c.solver_type == "bh1" || c.solver_type == "bh2") c.solver_type = "midpoint";
    c.json["algorithm_type"] = c.algorithm_type;
    c.json["solver_type"] = c.solver_type;
    check_one_of(cls, "algorithm_type", c.algorithm_type, {"dpmsolver++", "dpmsolver"});
    check_one_of(cls, "solver_type", c.solver_type, {"midpoint", "heun"});
    check_one_of(cls, "final_sigmas_type", c.final_sigmas_type, {"zero", "sigma_min"});
    if (c.algorithm_type != "dpmsolver++" && c.final_sigmas_type == "zero") {
      throw SchedulerError(cls + ": final_sigmas_type 'zero' is not supported for algorithm_type '" +
                           c.algorithm_type + "'; choose 'sigma_min'");
    }
    if (c.solver_order < 1 || c.solver_order > 3) throw SchedulerError(cls + ": solver_order must be 1, 2 or 3");
    if (!c.variance_type.empty()) {
      throw SchedulerError(cls + ": variance_type '" + c.variance_type + "' (learned variance) is not supported");
    }
    if (c.use_karras_sigmas && c.use_lu_lambdas) {
      throw SchedulerError(cls + ": use_karras_sigmas and use_lu_lambdas cannot both be set");
    }
  }
  if (cls == "UniPCMultistepScheduler") {
    if (c.solver_type == "midpoint" || c.solver_type == "heun" || c.solver_type == "logrho") c.solver_type = "bh2";
    c.json["solver_type"] = c.solver_type;
    check_one_of(cls, "solver_type", c.solver_type, {"bh1", "bh2"});
    check_one_of(cls, "final_sigmas_type", c.final_sigmas_type, {"zero", "sigma_min"});
    if (c.solver_order < 1 || c.solver_order > 3) throw SchedulerError(cls + ": solver_order must be 1, 2 or 3");
    if (c.has_solver_p) throw SchedulerError(cls + ": solver_p (a second scheduler as predictor) is not supported");
  }
  if (c.thresholding && (cls == "DPMSolverMultistepScheduler" || cls == "UniPCMultistepScheduler") &&
      c.dynamic_thresholding_ratio <= 0) {
    throw SchedulerError(cls + ": dynamic_thresholding_ratio must be > 0");
  }
  if (cls == "FlowMatchEulerDiscreteScheduler") {
    if (!std::isfinite(c.shift) || c.shift <= 0) throw SchedulerError(cls + ": shift must be a positive number");
    if (c.use_dynamic_shifting && c.max_image_seq_len == c.base_image_seq_len)
      throw SchedulerError(cls + ": max_image_seq_len must differ from base_image_seq_len");
  }
  if (cls == "LCMScheduler" && c.original_inference_steps < 1) {
    throw SchedulerError(cls + ": original_inference_steps must be >= 1");
  }
}

}  // namespace

const std::vector<std::string>& scheduler_class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, _] : signatures()) out.push_back(name);
    return out;
  }();
  return names;
}

const std::vector<std::pair<std::string, nlohmann::json>>& scheduler_signature(const std::string& class_name) {
  const auto& table = signatures();
  auto it = table.find(class_name);
  if (it == table.end()) {
    std::string list;
    for (const auto& [name, _] : table) list += (list.empty() ? "" : ", ") + name;
    throw SchedulerError("unknown scheduler class '" + class_name + "' (known: " + list + ")");
  }
  return it->second;
}

SchedulerConfig scheduler_config_from(const std::string& class_name, const nlohmann::json& config,
                                      const nlohmann::json& overrides) {
  const Signature& signature = scheduler_signature(class_name);
  if (!config.is_null() && !config.is_object()) throw SchedulerError(class_name + ": config must be a JSON object");
  if (!overrides.is_null() && !overrides.is_object()) throw SchedulerError(class_name + ": overrides must be a JSON object");

  // 0. Drop the keys the source config left at its own class's defaults.
  std::set<std::string> used_defaults;
  if (config.is_object() && config.contains("_use_default_values")) {
    const json& u = config.at("_use_default_values");
    if (!u.is_array()) throw SchedulerError(class_name + ": _use_default_values must be a list of keys");
    for (const auto& k : u) {
      if (k.is_string()) used_defaults.insert(k.get<std::string>());
    }
  }
  json original = json::object();
  if (config.is_object()) {
    for (const auto& [k, v] : config.items()) {
      if (k != "_use_default_values" && !used_defaults.count(k)) original[k] = v;
    }
  }

  // 1-3. The init dict: signature keys from the overrides first, then from the config (private
  // `_` keys never reach __init__).
  json init = json::object();
  for (const auto& [key, _] : signature) {
    if (overrides.is_object() && overrides.contains(key)) {
      init[key] = overrides.at(key);
    } else if (original.contains(key)) {
      init[key] = original.at(key);
    }
  }

  // The effective config: defaults, overridden by the init dict; defaults used; hidden keys.
  SchedulerConfig c;
  c.class_name = class_name;
  c.json = json::object();
  json used = json::array();
  for (const auto& [key, def] : signature) {
    if (init.contains(key)) {
      c.json[key] = init.at(key);
    } else {
      c.json[key] = def;
      used.push_back(key);
    }
  }
  std::vector<std::string> used_sorted = used.get<std::vector<std::string>>();
  std::sort(used_sorted.begin(), used_sorted.end());
  c.json["_use_default_values"] = used_sorted;
  for (const auto& [k, v] : original.items()) {
    if (!init.contains(k) && !c.json.contains(k)) c.json[k] = v;
  }
  c.json["_class_name"] = class_name;

  read_typed(c);
  validate(c);
  return c;
}


}  // namespace sdw
