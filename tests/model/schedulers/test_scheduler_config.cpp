// Scheduler configs against diffusers v0.30.3: short, class and A1111 names (unknown names list
// the valid ones), from_config semantics (dropped defaults, ignored unknown keys, per-name
// overrides, refused values), the effective configs and timesteps of the seeded cases (fixtures
// README section G) and the tiny pipelines' folder defaults. The rollouts are in
// test_schedulers.cpp.
#include <catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "model/schedulers/scheduler.h"
#include "model/schedulers/scheduler_config.h"
#include "model/schedulers/scheduler_fixtures.h"
#include "test_util.h"

using nlohmann::json;
using namespace sdw::test::scheduler_fixtures;

TEST_CASE("scheduler names: short, class and A1111 names; unknown names list the valid ones", "[schedulers]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ddim", "ddim"},
      {"DDIM", "ddim"},
      {"PLMS", "pndm"},
      {"pndm", "pndm"},
      {"DDPM", "ddpm"},
      {"Euler", "euler"},
      {"Euler a", "euler_a"},
      {"euler_a", "euler_a"},
      {"DPM++ 2M", "dpmpp_2m"},
      {"dpm++ 2m karras", "dpmpp_2m_karras"},
      {"DPM++ 2M Karras", "dpmpp_2m_karras"},
      {"Heun", "heun"},
      {"LCM", "lcm"},
      {"UniPC", "unipc"},
      {"EulerAncestralDiscreteScheduler", "euler_a"},
      {"DPMSolverMultistepScheduler", "dpmpp_2m"},
      {"unipcmultistepscheduler", "unipc"},
  };
  for (const auto& [in, out] : cases) {
    INFO(in);
    CHECK(sdw::canonical_scheduler_name(in) == out);
  }
  CHECK(sdw::scheduler_names().size() == 10);
  try {
    sdw::canonical_scheduler_name("k_lms");
    FAIL("no exception");
  } catch (const sdw::SchedulerError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("k_lms") != std::string::npos);
    for (const auto& name : sdw::scheduler_names()) CHECK(msg.find(name) != std::string::npos);
  }
  CHECK_THROWS_AS(sdw::make_scheduler("not-a-scheduler", sd15_scheduler_config()), sdw::SchedulerError);
  CHECK_THROWS_AS(sdw::make_scheduler(json{{"_class_name", "LMSDiscreteScheduler"}}), sdw::SchedulerError);
  CHECK_THROWS_AS(sdw::make_scheduler(json{{"beta_start", 0.1}}), sdw::SchedulerError);
}

TEST_CASE("from_config: dropped defaults, ignored unknown keys, per-name overrides", "[schedulers]") {
  json cfg = sd15_scheduler_config();
  cfg["_use_default_values"] = {"prediction_type", "timestep_spacing"};
  cfg["prediction_type"] = "v_prediction";  // listed as default-used: dropped
  cfg["timestep_spacing"] = "leading";      // listed as default-used: dropped
  cfg["some_future_key"] = 42;              // unknown: ignored, kept as hidden
  auto euler = sdw::make_scheduler("euler", cfg);
  const json c = euler->config();
  CHECK(c.at("prediction_type") == "epsilon");
  CHECK(c.at("timestep_spacing") == "linspace");
  CHECK(c.at("steps_offset") == 1);
  CHECK(c.at("beta_schedule") == "scaled_linear");
  CHECK(c.at("some_future_key") == 42);
  CHECK(c.at("skip_prk_steps") == true);  // PNDM's key, hidden on Euler
  CHECK(c.at("_class_name") == "EulerDiscreteScheduler");

  auto karras = sdw::make_scheduler("DPM++ 2M Karras", cfg);
  CHECK(karras->class_name() == "DPMSolverMultistepScheduler");
  CHECK(karras->config().at("use_karras_sigmas") == true);
  CHECK(karras->config().at("algorithm_type") == "dpmsolver++");
  CHECK(karras->config().at("solver_order") == 2);
  auto plain = sdw::make_scheduler("dpmpp_2m", cfg);
  CHECK(plain->config().at("use_karras_sigmas") == false);

  // a config that sets karras explicitly keeps it on dpmpp_2m? No: the name's override is only
  // applied for dpmpp_2m_karras; dpmpp_2m keeps the config's value (diffusers' from_config).
  json with_karras = cfg;
  with_karras["use_karras_sigmas"] = true;
  CHECK(sdw::make_scheduler("dpmpp_2m", with_karras)->config().at("use_karras_sigmas") == true);

  // values of the wrong type or unsupported options are errors naming the key
  json bad = cfg;
  bad["steps_offset"] = "one";
  CHECK_THROWS_AS(sdw::make_scheduler("ddim", bad), sdw::SchedulerError);
  json bad_spacing = sd15_scheduler_config();
  bad_spacing["timestep_spacing"] = "cosine";
  CHECK_THROWS_AS(sdw::make_scheduler("ddim", bad_spacing), sdw::SchedulerError);
  // ... but a bad value listed in _use_default_values is dropped, as diffusers does
  bad_spacing["_use_default_values"] = {"timestep_spacing"};
  CHECK(sdw::make_scheduler("ddim", bad_spacing)->config().at("timestep_spacing") == "leading");
  // the name's overrides win over the config (dpmpp_2m is always dpmsolver++) ...
  json sde = sd15_scheduler_config();
  sde["algorithm_type"] = "sde-dpmsolver++";
  CHECK(sdw::make_scheduler("dpmpp_2m", sde)->config().at("algorithm_type") == "dpmsolver++");
  // ... and a DPM config asking for the (not ported) SDE variant is refused
  sde["_class_name"] = "DPMSolverMultistepScheduler";
  CHECK_THROWS_AS(sdw::make_scheduler(sde), sdw::SchedulerError);
}

TEST_CASE("factory reproduces the seeded cases' effective configs and timesteps", "[schedulers][parity]") {
  const json cases = read_json(sdw::test::fixture("seeded/cases.json"));
  int checked = 0;
  for (const auto& c : cases.at("cases")) {
    const std::string id = c.at("id").get<std::string>();
    INFO("case " << id);
    const json folder =
        read_json(sdw::test::fixture("pipelines/" + c.at("pipeline").get<std::string>() + "/scheduler/scheduler_config.json"));
    std::unique_ptr<sdw::Scheduler> sched = c.at("scheduler").is_null()
                                                ? sdw::make_scheduler(folder)
                                                : sdw::make_scheduler(c.at("scheduler").get<std::string>(), folder);
    CHECK(sched->class_name() == c.at("scheduler_class").get<std::string>());
    check_config_matches(sched->config(), c.at("scheduler_config"), id);

    const int steps = c.at("steps").get<int>();
    at::Tensor run;
    const bool from_image = c.at("mode") != "txt2img" && c.contains("strength") && !c.at("strength").is_null();
    if (from_image) {
      run = sdw::img2img_timesteps(*sched, steps, c.at("strength").get<double>()).first;
    } else {
      sched->set_timesteps(steps);
      run = sched->timesteps();
    }
    const std::vector<double> expected = c.at("timesteps_run").get<std::vector<double>>();
    at::Tensor r = run.to(at::kDouble).contiguous();
    std::vector<double> got(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
    CHECK(got == expected);
    CHECK(static_cast<int64_t>(expected.size()) == c.at("unet_calls").get<int64_t>());
    ++checked;
  }
  CHECK(checked == 17);
}

TEST_CASE("folder defaults: PNDM for tiny-sd15, DDIM v-prediction for tiny-sd21v", "[schedulers]") {
  auto sd15 = sdw::make_scheduler(read_json(sdw::test::fixture("pipelines/tiny-sd15/scheduler/scheduler_config.json")));
  CHECK(sd15->class_name() == "PNDMScheduler");
  CHECK(sd15->config().at("skip_prk_steps") == true);
  CHECK(sd15->config().at("timestep_spacing") == "leading");
  auto sd21 = sdw::make_scheduler(read_json(sdw::test::fixture("pipelines/tiny-sd21v/scheduler/scheduler_config.json")));
  CHECK(sd21->class_name() == "DDIMScheduler");
  CHECK(sd21->config().at("prediction_type") == "v_prediction");
  CHECK(sd21->config().at("set_alpha_to_one") == false);
  CHECK(sd21->config().at("clip_sample") == false);
}
