// How SD3's sampler is named where samplers are shown: A1111's "Euler" with "Schedule type:
// Simple" in the PNG parameters text (SD3's FlowMatchEulerDiscreteScheduler), "flow_match_euler"
// as a canonical name other families refuse.
#include <catch.hpp>

#include <algorithm>

#include "model/image/generation_parameters.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"
#include "model/schedulers/scheduler.h"

using namespace sdw;

TEST_CASE("SD3's flow-matching Euler is A1111's Euler with schedule type Simple", "[sd3][parameters]") {
  nlohmann::json config = {{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"shift", 3.0}};
  auto s = make_scheduler(config);
  CHECK(sampler_display_name(*s) == "Euler");
  CHECK(schedule_type_name(s->class_name()) == "Simple");
  CHECK(schedule_type_name("EulerDiscreteScheduler").empty());

  GenerationResult r;
  r.steps = 28;
  r.guidance = 7;
  r.seed = 1;
  r.width = r.height = 1024;
  r.scheduler = s->class_name();
  r.sampler_name = sampler_display_name(*s);
  GenerationRequest q;
  q.prompt = "a fox";
  CHECK(r.parameters_text("sd3-medium", q) ==
        "a fox\nSteps: 28, Sampler: Euler, Schedule type: Simple, CFG scale: 7, Seed: 1, Size: 1024x1024, "
        "Model: sd3-medium");
  // A UNet model's Euler has no schedule type field.
  r.scheduler = "EulerDiscreteScheduler";
  CHECK(r.parameters_text("v1-5", q).find("Schedule type") == std::string::npos);

  CHECK(canonical_scheduler_name("FlowMatchEulerDiscreteScheduler") == "flow_match_euler");
  CHECK(canonical_scheduler_name("flow_match_euler") == "flow_match_euler");
  const auto names = scheduler_names();
  CHECK(std::find(names.begin(), names.end(), "flow_match_euler") == names.end());  // not a UNet sampler
}

TEST_CASE("a model of another family refuses SD3's flow-matching scheduler", "[sd3]") {
  ModelLoadOptions o;
  auto demo = make_demo_model(o);
  GenerationRequest r;
  r.prompt = "a fox";
  r.width = r.height = 64;
  for (const char* name : {"flow_match_euler", "FlowMatchEulerDiscreteScheduler"}) {
    r.scheduler = name;
    CHECK_THROWS_WITH(resolve_request(*demo, r), Catch::Contains("SD3's flow-matching scheduler"));
  }
}
