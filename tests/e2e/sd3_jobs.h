// Test support for the SD3 e2e tests: a seeded case of tests/fixtures/sd3/cases.json by id, and
// the rbee job with that case's settings (txt2img, or img2img with its init image and strength).
#pragma once

#include <catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

#include "file_bytes.h"
#include "model/image/image_io.h"
#include "test_util.h"

namespace sdw::test {

inline nlohmann::json sd3_case(const std::string& id) {
  const nlohmann::json cases = read_json(fixture("sd3/cases.json"));
  for (const auto& c : cases["cases"])
    if (c["id"] == id) return c;
  FAIL("no case " << id);
  return {};
}

inline nlohmann::json sd3_job(const nlohmann::json& c, const std::string& model) {
  nlohmann::json job = {{"operation", c["mode"] == "img2img" ? "image_transform" : "image_generation"},
                        {"hive_id", "h"},
                        {"model", model},
                        {"prompt", c["prompt"]},
                        {"steps", c["steps"]},
                        {"guidance_scale", c["guidance"]},
                        {"seed", c["seed"]},
                        {"width", c["width"]},
                        {"height", c["height"]}};
  if (!c["negative_prompt"].is_null()) job["negative_prompt"] = c["negative_prompt"];
  if (c["strength"].is_number()) job["strength"] = c["strength"];
  if (c["init_image"].is_string())
    job["input_image"] = encode_base64(file_bytes(fixture("sd3/" + c["init_image"].get<std::string>())));
  return job;
}

}  // namespace sdw::test
