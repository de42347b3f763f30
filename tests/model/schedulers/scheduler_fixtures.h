// Helpers shared by the scheduler tests (test_schedulers.cpp, test_scheduler_*.cpp): fixture JSON, the fake model, SD1.5's config, config comparison. Header-only.
#pragma once

#include <catch.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "model/safetensors/diffusers_json.h"
#include "model/schedulers/scheduler.h"
#include "model/schedulers/scheduler_config.h"

namespace sdw::test::scheduler_fixtures {

using nlohmann::json;

inline json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return sdw::parse_diffusers_json(ss.str());
}

// The fixtures' fake UNet: 0.5 * x * cos(t / 1000) + 0.1 * sin(x), t a float32 scalar tensor.
inline at::Tensor fake_model(const at::Tensor& x, double timestep) {
  at::Tensor t = at::scalar_tensor(timestep, at::kFloat);
  return 0.5 * x * at::cos(t / 1000.0) + 0.1 * at::sin(x);
}

// Released runwayml/stable-diffusion-v1-5 scheduler config (PNDM), as the fixtures use it.
inline json sd15_scheduler_config() {
  return json{{"_class_name", "PNDMScheduler"},  {"_diffusers_version", "0.6.0"},
              {"beta_end", 0.012},               {"beta_schedule", "scaled_linear"},
              {"beta_start", 0.00085},           {"clip_sample", false},
              {"num_train_timesteps", 1000},     {"set_alpha_to_one", false},
              {"skip_prk_steps", true},          {"steps_offset", 1},
              {"trained_betas", nullptr}};
}

// Compares a config value of ours with the fixture's (-Infinity arrives as a string).
inline bool json_value_equal(const json& ours, const json& expected) {
  if (expected.is_string() && (expected == "-Infinity" || expected == "Infinity")) {
    return ours.is_number() && std::isinf(ours.get<double>()) &&
           ((ours.get<double>() < 0) == (expected == "-Infinity"));
  }
  if (ours.is_number() && expected.is_number()) return ours.get<double>() == expected.get<double>();
  return ours == expected;
}

// Every key of `expected` (except private ones other than _use_default_values) matches.
inline void check_config_matches(const json& ours, const json& expected, const std::string& what) {
  for (const auto& [key, value] : expected.items()) {
    INFO(what << ": key " << key << " ours=" << (ours.contains(key) ? ours.at(key).dump() : "<missing>")
              << " expected=" << value.dump());
    if (key == "_use_default_values") {
      REQUIRE(ours.contains(key));
      std::set<std::string> a = ours.at(key).get<std::set<std::string>>();
      std::set<std::string> b = value.get<std::set<std::string>>();
      CHECK(a == b);
      continue;
    }
    if (!key.empty() && key[0] == '_') continue;
    REQUIRE(ours.contains(key));
    CHECK(json_value_equal(ours.at(key), value));
  }
  // and no public key the reference does not have
  for (const auto& [key, value] : ours.items()) {
    if (!key.empty() && key[0] == '_') continue;
    INFO(what << ": extra key " << key);
    CHECK(expected.contains(key));
  }
}

}  // namespace sdw::test::scheduler_fixtures
