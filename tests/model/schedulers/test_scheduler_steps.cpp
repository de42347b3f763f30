// Scheduler steps outside the fixtures' rollouts: the img2img timestep helper (diffusers'
// get_timesteps and set_begin_index, add_noise and scaling at the begin index), refusals to step
// before set_timesteps or with bad step counts (and a finite 10-step rollout of every scheduler),
// and DDIM's eta noise, x_0 clipping and DDPM's dynamic thresholding. The parity rollouts are in
// test_schedulers.cpp.
#include <catch.hpp>

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>

#include "model/schedulers/scheduler.h"
#include "model/schedulers/scheduler_config.h"
#include "model/schedulers/scheduler_fixtures.h"

using nlohmann::json;
using namespace sdw::test::scheduler_fixtures;

TEST_CASE("img2img_timesteps: diffusers' get_timesteps and set_begin_index", "[schedulers]") {
  const json cfg = sd15_scheduler_config();
  auto to_vec = [](const at::Tensor& t) {
    at::Tensor d = t.to(at::kDouble).contiguous();
    return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  };
  {
    auto pndm = sdw::make_scheduler("pndm", cfg);
    auto [ts, begin] = sdw::img2img_timesteps(*pndm, 4, 0.75);
    CHECK(to_vec(ts) == std::vector<double>{501, 501, 251, 1});
    CHECK(begin == 1);
  }
  {
    auto ddim = sdw::make_scheduler("ddim", cfg);
    auto [ts, begin] = sdw::img2img_timesteps(*ddim, 4, 0.75);
    CHECK(to_vec(ts) == std::vector<double>{501, 251, 1});
    CHECK(begin == 1);
  }
  {
    auto euler_a = sdw::make_scheduler("euler_a", cfg);
    auto [ts, begin] = sdw::img2img_timesteps(*euler_a, 5, 0.6);
    CHECK(to_vec(ts) == std::vector<double>{499.5, 249.75, 0.0});
    CHECK(begin == 2);
    // add_noise and the first step use sigma index 2 (the begin index)
    const float sigma2 = euler_a->sigmas()[2].item<float>();
    at::Tensor x0 = at::ones({1, 4, 2, 2});
    at::Tensor noise = at::full({1, 4, 2, 2}, 2.0);
    at::Tensor noisy = euler_a->add_noise(x0, noise, ts[0].item<double>());
    CHECK(at::allclose(noisy, x0 + noise * sigma2, 0, 0));
    at::Tensor scaled = euler_a->scale_model_input(noisy, ts[0].item<double>());
    CHECK(at::allclose(scaled, noisy / std::sqrt(double(sigma2) * sigma2 + 1), 1e-6, 0));
  }
  {
    // Heun (order 2) starts inside its repeated pairs: t_start * 2
    auto heun = sdw::make_scheduler("heun", cfg);
    auto [ts, begin] = sdw::img2img_timesteps(*heun, 4, 0.5);
    CHECK(begin == 4);
    CHECK(ts.size(0) == 3);
  }
  {
    // strength 1: everything, from index 0
    auto dpm = sdw::make_scheduler("dpmpp_2m", cfg);
    auto [ts, begin] = sdw::img2img_timesteps(*dpm, 6, 1.0);
    CHECK(begin == 0);
    CHECK(ts.size(0) == 6);
  }
  auto euler = sdw::make_scheduler("euler", cfg);
  CHECK_THROWS_AS(sdw::img2img_timesteps(*euler, 4, 1.5), sdw::SchedulerError);
}

TEST_CASE("schedulers refuse to step before set_timesteps and bad step counts", "[schedulers]") {
  const json cfg = sd15_scheduler_config();
  at::Tensor x = at::zeros({1, 4, 8, 8});
  for (const auto& name : sdw::scheduler_names()) {
    INFO(name);
    auto s = sdw::make_scheduler(name, cfg);
    CHECK_THROWS_AS(s->step(x, 999, x, std::nullopt), sdw::SchedulerError);
    CHECK_THROWS_AS(s->set_timesteps(0), sdw::SchedulerError);
    CHECK_THROWS_AS(s->set_timesteps(1001), sdw::SchedulerError);
    // a full rollout runs and stays finite (every scheduler, 10 steps)
    s->set_timesteps(10);
    at::Generator g = at::detail::createCPUGenerator(7);
    at::Tensor sample = at::randn({1, 4, 8, 8}, g, at::TensorOptions().dtype(at::kFloat)) * s->init_noise_sigma();
    at::Tensor ts = s->timesteps().to(at::kDouble);
    for (int64_t i = 0; i < ts.size(0); ++i) {
      const double t = ts[i].item<double>();
      at::Tensor in = s->scale_model_input(sample, t);
      sample = s->step(fake_model(in, t), t, sample, g).prev_sample;
    }
    CHECK(at::isfinite(sample).all().item<bool>());
  }
  // LCM cannot run more steps than its distillation schedule has
  auto lcm = sdw::make_scheduler("lcm", cfg);
  CHECK_THROWS_AS(lcm->set_timesteps(51), sdw::SchedulerError);
}

TEST_CASE("DDIM eta and x_0 clipping options", "[schedulers]") {
  json cfg = sd15_scheduler_config();
  at::Tensor sample = at::full({1, 4, 8, 8}, 3.0);
  at::Tensor out = at::full({1, 4, 8, 8}, -2.0);
  {
    // eta > 0 draws one noise tensor per step (float32 CPU randn) and adds std_dev_t * noise
    auto ddim = sdw::make_scheduler("ddim", cfg);
    ddim->set_timesteps(4);
    auto det = sdw::make_scheduler("ddim", cfg);
    det->set_timesteps(4);
    ddim->set_eta(1.0);
    at::Generator g = at::detail::createCPUGenerator(3);
    at::Tensor a = ddim->step(out, 501, sample, g).prev_sample;
    at::Tensor b = det->step(out, 501, sample, std::nullopt).prev_sample;
    CHECK_FALSE(at::allclose(a, b));
    at::Generator probe = at::detail::createCPUGenerator(3);
    at::randn({1, 4, 8, 8}, probe, at::TensorOptions().dtype(at::kFloat));
    CHECK(at::equal(at::randn({2}, g, at::TensorOptions().dtype(at::kFloat)),
                    at::randn({2}, probe, at::TensorOptions().dtype(at::kFloat))));
  }
  {
    // clip_sample clamps the x_0 estimate to +-clip_sample_range
    cfg["clip_sample"] = true;
    cfg["clip_sample_range"] = 0.5;
    auto ddim = sdw::make_scheduler("ddim", cfg);
    ddim->set_timesteps(4);
    at::Tensor x0 = ddim->step(out, 501, sample, std::nullopt).pred_original_sample;
    CHECK(x0.abs().max().item<float>() <= 0.5f);
    CHECK(x0.abs().max().item<float>() == 0.5f);
  }
  {
    // dynamic thresholding: x_0 ends up within [-1, 1] (s clamped to [1, sample_max_value])
    json t = sd15_scheduler_config();
    t["thresholding"] = true;
    t["sample_max_value"] = 1.0;
    auto ddpm = sdw::make_scheduler("ddpm", t);
    ddpm->set_timesteps(4);
    at::Tensor x0 = ddpm->step(out, 501, sample, std::nullopt).pred_original_sample;
    CHECK(x0.abs().max().item<float>() <= 1.0f + 1e-6f);
  }
}
