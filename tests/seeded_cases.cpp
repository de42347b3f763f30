// Seeded cases as requests (see seeded_cases.h).
#include "seeded_cases.h"

#include <catch.hpp>

#include <algorithm>
#include <cstdlib>

#include "test_util.h"

namespace sdw::test {
namespace {

bool given(const nlohmann::json& c, const char* key) { return c.contains(key) && !c[key].is_null(); }

}  // namespace

GenerationRequest seeded_sd3_request(const nlohmann::json& c) {
  GenerationRequest r;
  r.mode = c["mode"] == "img2img" ? GenerationMode::img2img : GenerationMode::txt2img;
  r.prompt = c["prompt"];
  if (!c["negative_prompt"].is_null()) r.negative_prompt = c["negative_prompt"].get<std::string>();
  r.width = c["width"];
  r.height = c["height"];
  r.steps = c["steps"];
  r.guidance = c["guidance"].get<double>();
  r.seed = c["seed"].get<uint64_t>();
  r.num_images = c["num_images"];
  if (c["strength"].is_number()) r.strength = c["strength"].get<double>();
  if (c["init_image"].is_string()) r.init_image = load_image(test::fixture("sd3/" + c["init_image"].get<std::string>()));
  r.max_sequence_length = c["max_sequence_length"];
  if (c["clip_skip"].is_number()) r.clip_skip = c["clip_skip"].get<int>() + 1;  // diffusers k -> A1111 k + 1
  return r;
}

GenerationRequest seeded_request(const nlohmann::json& c, const std::string& dir) {
  GenerationRequest req;
  std::string mode = c["mode"];
  if (mode.rfind("xl_", 0) == 0) mode = mode.substr(3);  // sdxl_modes: xl_img2img, xl_inpaint
  if (mode != "txt2img" && mode != "img2img" && mode != "inpaint") FAIL("unknown mode " << mode);
  req.mode = mode == "txt2img" ? GenerationMode::txt2img : mode == "img2img" ? GenerationMode::img2img : GenerationMode::inpaint;
  req.prompt = c["prompt"];
  if (given(c, "negative_prompt")) req.negative_prompt = c["negative_prompt"].get<std::string>();
  if (given(c, "width")) req.width = c["width"];  // sdxl_modes img2img: null, the image's size
  if (given(c, "height")) req.height = c["height"];
  req.steps = c["steps"];
  req.guidance = c["guidance"].get<double>();
  req.seed = c["seed"].get<uint64_t>();
  if (given(c, "scheduler")) req.scheduler = c["scheduler"];
  if (given(c, "strength") && c["strength"].is_number()) req.strength = c["strength"].get<double>();  // "default": not passed
  if (given(c, "init_image")) req.init_image = load_image(fixture(dir + "/" + c["init_image"].get<std::string>()));
  if (given(c, "mask_image")) req.mask_image = load_image(fixture(dir + "/" + c["mask_image"].get<std::string>()));
  req.num_images = c["num_images"];
  req.clip_skip = c.value("clip_skip", 1);
  return req;
}

int max_pixel_diff(const Image& a, const Image& b) {
  REQUIRE(a.width == b.width);
  REQUIRE(a.height == b.height);
  REQUIRE(a.pixels.size() == b.pixels.size());
  int m = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) m = std::max(m, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return m;
}

}  // namespace sdw::test
