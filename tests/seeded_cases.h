// The seeded end-to-end cases of tests/fixtures/seeded/cases.json and sd3/cases.json (seed -> the
// PNG diffusers gave) as requests, and the pixel comparison every image-parity test uses.
#pragma once

#include <nlohmann/json.hpp>

#include "model/image/image_io.h"
#include "model/pipeline/request.h"

namespace sdw::test {

// One case of cases.json as a GenerationRequest (init/mask images read from the fixture folder
// `dir`); fields a case leaves out (the LoRA cases have no strength, images or clip_skip; a
// "default" strength or null size) keep their defaults.
GenerationRequest seeded_request(const nlohmann::json& c, const std::string& dir = "seeded");

// One case of tests/fixtures/sd3/cases.json as a GenerationRequest (its init image read from sd3/;
// diffusers' clip_skip k is A1111's k + 1).
GenerationRequest seeded_sd3_request(const nlohmann::json& c);

// Largest per-channel difference of two images of the same size (a test failure otherwise).
int max_pixel_diff(const Image& a, const Image& b);

}  // namespace sdw::test
