// Scheduler factory: diffusers' scheduler selection by `_class_name` and `Cls.from_config(config,
// **overrides)` for the CLI / A1111 scheduler names (the pipelines' `pipe.scheduler =
// Cls.from_config(pipe.scheduler.config, ...)`).
#include <algorithm>
#include <cctype>
#include <map>

#include "model/schedulers/ddim.h"
#include "model/schedulers/ddpm.h"
#include "model/schedulers/dpmpp_2m.h"
#include "model/schedulers/euler.h"
#include "model/schedulers/euler_a.h"
#include "model/schedulers/flow_match_euler.h"
#include "model/schedulers/heun.h"
#include "model/schedulers/lcm.h"
#include "model/schedulers/pndm.h"
#include "model/schedulers/scheduler.h"
#include "model/schedulers/scheduler_config.h"
#include "model/schedulers/unipc.h"

namespace sdw {
namespace {

struct NamedScheduler {
  std::string name;        // canonical short name
  std::string class_name;  // diffusers class
  nlohmann::json overrides;
};

const std::vector<NamedScheduler>& named_schedulers() {
  static const std::vector<NamedScheduler> table = {
      {"ddim", "DDIMScheduler", nlohmann::json::object()},
      {"pndm", "PNDMScheduler", nlohmann::json::object()},
      {"ddpm", "DDPMScheduler", nlohmann::json::object()},
      {"euler", "EulerDiscreteScheduler", nlohmann::json::object()},
      {"euler_a", "EulerAncestralDiscreteScheduler", nlohmann::json::object()},
      {"dpmpp_2m", "DPMSolverMultistepScheduler", {{"algorithm_type", "dpmsolver++"}, {"solver_order", 2}}},
      {"dpmpp_2m_karras", "DPMSolverMultistepScheduler",
       {{"algorithm_type", "dpmsolver++"}, {"solver_order", 2}, {"use_karras_sigmas", true}}},
      {"heun", "HeunDiscreteScheduler", nlohmann::json::object()},
      {"lcm", "LCMScheduler", nlohmann::json::object()},
      {"unipc", "UniPCMultistepScheduler", nlohmann::json::object()},
  };
  return table;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Lower-cased aliases -> canonical short name.
const std::map<std::string, std::string>& aliases() {
  static const std::map<std::string, std::string> table = [] {
    std::map<std::string, std::string> m;
    for (const auto& n : named_schedulers()) m[n.name] = n.name;
    // diffusers class names (DPMSolverMultistepScheduler as DPM++ 2M, its usual use)
    m["ddimscheduler"] = "ddim";
    m["pndmscheduler"] = "pndm";
    m["ddpmscheduler"] = "ddpm";
    m["eulerdiscretescheduler"] = "euler";
    m["eulerancestraldiscretescheduler"] = "euler_a";
    m["dpmsolvermultistepscheduler"] = "dpmpp_2m";
    m["heundiscretescheduler"] = "heun";
    m["lcmscheduler"] = "lcm";
    m["unipcmultistepscheduler"] = "unipc";
    // A1111 display names
    m["plms"] = "pndm";
    m["euler a"] = "euler_a";
    m["euler_ancestral"] = "euler_a";
    m["dpm++ 2m"] = "dpmpp_2m";
    m["dpm++ 2m karras"] = "dpmpp_2m_karras";
    // SD3's own scheduler: a name SD3 models accept (as their default), other families refuse.
    m["flow_match_euler"] = "flow_match_euler";
    m["flowmatcheulerdiscretescheduler"] = "flow_match_euler";
    return m;
  }();
  return table;
}

std::unique_ptr<Scheduler> build(const SchedulerConfig& config) {
  const std::string cls = config.class_name;
  if (cls == "DDIMScheduler") return std::make_unique<DdimScheduler>(config);
  if (cls == "PNDMScheduler") return std::make_unique<PndmScheduler>(config);
  if (cls == "DDPMScheduler") return std::make_unique<DdpmScheduler>(config);
  if (cls == "EulerDiscreteScheduler") return std::make_unique<EulerScheduler>(config);
  if (cls == "EulerAncestralDiscreteScheduler") return std::make_unique<EulerAncestralScheduler>(config);
  if (cls == "DPMSolverMultistepScheduler") return std::make_unique<DpmSolverMultistepScheduler>(config);
  if (cls == "HeunDiscreteScheduler") return std::make_unique<HeunScheduler>(config);
  if (cls == "LCMScheduler") return std::make_unique<LcmScheduler>(config);
  if (cls == "UniPCMultistepScheduler") return std::make_unique<UniPcScheduler>(config);
  // SD3's own scheduler: built from a model's config by class, not offered by name for UNet models.
  if (cls == "FlowMatchEulerDiscreteScheduler") return std::make_unique<FlowMatchEulerScheduler>(config);
  throw SchedulerError("unknown scheduler class '" + cls + "'");
}

const NamedScheduler& named(const std::string& canonical) {
  for (const auto& n : named_schedulers()) {
    if (n.name == canonical) return n;
  }
  throw SchedulerError("internal error: no scheduler named '" + canonical + "'");
}

}  // namespace

std::unique_ptr<Scheduler> make_scheduler(const SchedulerConfig& config) { return build(config); }

std::vector<std::string> scheduler_names() {
  std::vector<std::string> out;
  for (const auto& n : named_schedulers()) out.push_back(n.name);
  return out;
}

std::string canonical_scheduler_name(const std::string& name) {
  const auto& table = aliases();
  auto it = table.find(lower(name));
  if (it != table.end()) return it->second;
  std::string list;
  for (const auto& n : scheduler_names()) list += (list.empty() ? "" : ", ") + n;
  throw SchedulerError("unknown scheduler '" + name + "'; valid names: " + list +
                       " (also the diffusers class names and the A1111 names DDIM, PLMS, DDPM, Euler, Euler a, "
                       "DPM++ 2M, DPM++ 2M Karras, Heun, LCM, UniPC)");
}

std::unique_ptr<Scheduler> make_scheduler(const nlohmann::json& scheduler_config) {
  if (!scheduler_config.is_object() || !scheduler_config.contains("_class_name") ||
      !scheduler_config.at("_class_name").is_string()) {
    throw SchedulerError("scheduler config has no \"_class_name\" string");
  }
  const std::string cls = scheduler_config.at("_class_name").get<std::string>();
  return build(scheduler_config_from(cls, scheduler_config));
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const nlohmann::json& model_scheduler_config) {
  const NamedScheduler& n = named(canonical_scheduler_name(name));
  const nlohmann::json config = model_scheduler_config.is_null() ? nlohmann::json::object() : model_scheduler_config;
  return build(scheduler_config_from(n.class_name, config, n.overrides));
}

}  // namespace sdw
