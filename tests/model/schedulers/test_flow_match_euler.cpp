// FlowMatchEulerDiscreteScheduler (SD3) against diffusers v0.30.3 (tests/fixtures/schedulers/
// flow_match_euler.*, README section M.5): the shifted training sigmas, the timesteps and sigmas
// of N = 1, 4, 20, 28 and full rollouts of the fixtures' fake model for shift 3 (the released SD3
// config) and shift 1 (the class defaults), all bit for bit; scale_noise at begin indices 0, 11
// and 27 (img2img); the effective config; dynamic shifting (mu) and bad configs.
#include <catch.hpp>

#include <cmath>

#include "model/schedulers/flow_match_euler.h"
#include "model/schedulers/scheduler.h"
#include "model/schedulers/scheduler_config.h"
#include "test_util.h"

using nlohmann::json;
using sdw::test::compare;

namespace {

at::Tensor fake_model(const at::Tensor& x, double timestep) {
  at::Tensor t = at::scalar_tensor(timestep, at::kFloat);
  return 0.5 * x * at::cos(t / 1000.0) + 0.1 * at::sin(x);
}

struct Fixture {
  json meta = sdw::test::read_json(sdw::test::fixture("schedulers/flow_match_euler.json"));
  sdw::SafetensorsFile tensors = sdw::SafetensorsFile::open(sdw::test::fixture("schedulers/flow_match_euler.safetensors"));
};

}  // namespace

TEST_CASE("FlowMatchEuler: schedules and rollouts equal diffusers' bit for bit", "[schedulers][flow_match][parity]") {
  Fixture f;
  for (const std::string cfg : {"sd3_shift3", "shift1_default"}) {
    const json overrides = f.meta["configs"][cfg]["overrides"];
    json config = overrides.is_null() ? json::object() : overrides;
    config["_class_name"] = "FlowMatchEulerDiscreteScheduler";
    auto sched = sdw::make_scheduler(config);
    REQUIRE(sched->class_name() == "FlowMatchEulerDiscreteScheduler");
    auto* flow = dynamic_cast<sdw::FlowMatchEulerScheduler*>(sched.get());
    REQUIRE(flow != nullptr);
    INFO("config " << cfg);
    CHECK(compare(flow->train_sigmas(), f.tensors.get(cfg + ".train_sigmas")).max_abs == 0);
    // The effective config is diffusers' (every key, the defaults used).
    json effective = sched->config();
    for (const auto& [k, v] : f.meta["configs"][cfg]["config"].items()) CHECK(effective[k] == v);
    for (int n : {1, 4, 20, 28}) {
      INFO("N = " << n);
      const std::string p = cfg + ".n" + std::to_string(n) + ".";
      sched->set_timesteps(n);
      CHECK(compare(sched->timesteps(), f.tensors.get(p + "timesteps")).max_abs == 0);
      CHECK(compare(sched->sigmas(), f.tensors.get(p + "sigmas")).max_abs == 0);
      CHECK(sched->init_noise_sigma() == 1.0);
      at::Tensor sample = f.tensors.get(p + "start_sample");
      CHECK(compare(sample, f.tensors.get("x_T")).max_abs == 0);  // no init_noise_sigma scaling
      at::Tensor outs = f.tensors.get(p + "model_outputs"), samples = f.tensors.get(p + "samples");
      at::Tensor ts = sched->timesteps();
      for (int64_t i = 0; i < ts.size(0); ++i) {
        const double t = ts[i].item<double>();
        at::Tensor in = sched->scale_model_input(sample, t);
        CHECK(in.equal(sample));
        at::Tensor out = fake_model(in, t);
        CHECK(compare(out, outs[i]).max_abs == 0);
        sample = sched->step(out, t, sample, std::nullopt).prev_sample;
        CHECK(compare(sample, samples[i]).max_abs == 0);
      }
      CHECK_THROWS_AS(sched->step(sample, ts[-1].item<double>(), sample, std::nullopt), sdw::SchedulerError);
    }
  }
}

TEST_CASE("FlowMatchEuler: scale_noise (img2img) at a begin index equals diffusers'", "[schedulers][flow_match][parity]") {
  Fixture f;
  auto sched = sdw::make_scheduler(json{{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"shift", 3.0}});
  const int n = f.meta["scale_noise"]["num_inference_steps"].get<int>();
  const auto begins = f.meta["scale_noise"]["begin_indices"].get<std::vector<int64_t>>();
  at::Tensor x0 = f.tensors.get("sd3_shift3.scale_noise.x0"), noise = f.tensors.get("sd3_shift3.scale_noise.noise");
  at::Tensor expected = f.tensors.get("sd3_shift3.scale_noise.out_k0_k11_k27");
  for (size_t j = 0; j < begins.size(); ++j) {
    sched->set_timesteps(n);
    sched->set_begin_index(begins[j]);
    const double t = sched->timesteps()[begins[j]].item<double>();
    CHECK(compare(sched->add_noise(x0, noise, t), expected[static_cast<int64_t>(j)]).max_abs == 0);
  }
}

TEST_CASE("FlowMatchEuler: dynamic shifting needs mu and time-shifts the sigmas", "[schedulers][flow_match]") {
  json config{{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"use_dynamic_shifting", true}};
  auto sched = sdw::make_scheduler(config);
  auto* flow = dynamic_cast<sdw::FlowMatchEulerScheduler*>(sched.get());
  REQUIRE(flow != nullptr);
  CHECK_THROWS_AS(sched->set_timesteps(4), sdw::SchedulerError);
  // diffusers' calculate_shift: base_shift at 256 tokens, max_shift at 4096.
  CHECK(flow->mu_for_image_tokens(256) == Approx(0.5).margin(1e-12));
  CHECK(flow->mu_for_image_tokens(4096) == Approx(1.15).margin(1e-12));
  const double mu = flow->mu_for_image_tokens(1024);
  flow->set_mu(mu);
  sched->set_timesteps(4);
  // Unshifted training sigmas run from 1 to 0.001; exp(mu) / (exp(mu) + 1/s - 1) of a float64 linspace.
  const double smin = static_cast<double>(static_cast<float>(1.0 / 1000.0));
  at::Tensor sig = sched->sigmas();
  REQUIRE(sig.size(0) == 5);
  for (int i = 0; i < 4; ++i) {
    const double t = (1000.0 + i * ((smin * 1000.0 - 1000.0) / 3.0)) / 1000.0;
    const double s = i == 3 ? smin : t;
    const double expected = std::exp(mu) / (std::exp(mu) + (1.0 / s - 1.0));
    CHECK(sig[i].item<float>() == static_cast<float>(expected));
  }
  CHECK(sig[4].item<float>() == 0.0f);
}

TEST_CASE("FlowMatchEuler: bad configs and calls are SchedulerErrors", "[schedulers][flow_match]") {
  CHECK_THROWS_AS(sdw::make_scheduler(json{{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"shift", -1.0}}),
                  sdw::SchedulerError);
  CHECK_THROWS_AS(sdw::make_scheduler(json{{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"shift", "3"}}),
                  sdw::SchedulerError);
  auto sched = sdw::make_scheduler(json{{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"shift", 3.0}});
  at::Tensor x = at::zeros({1, 4, 8, 8});
  CHECK_THROWS_AS(sched->step(x, 1000.0, x, std::nullopt), sdw::SchedulerError);  // before set_timesteps
  CHECK_THROWS_AS(sched->set_timesteps(0), sdw::SchedulerError);
  sched->set_timesteps(4);
  CHECK_THROWS_AS(sched->step(x, 123.0, x, std::nullopt), sdw::SchedulerError);  // not in the schedule
}
