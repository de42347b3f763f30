// Seeded cases as requests (see seeded_cases.h).
#include "seeded_cases.h"

#include <catch.hpp>

#include <algorithm>
#include <cstdlib>

#include "test_util.h"

namespace sdw::test {

GenerationRequest seeded_request(const nlohmann::json& c) {
  GenerationRequest req;
  const std::string mode = c["mode"];
  req.mode = mode == "txt2img" ? GenerationMode::txt2img : mode == "img2img" ? GenerationMode::img2img : GenerationMode::inpaint;
  req.prompt = c["prompt"];
  if (!c["negative_prompt"].is_null()) req.negative_prompt = c["negative_prompt"].get<std::string>();
  req.width = c["width"];
  req.height = c["height"];
  req.steps = c["steps"];
  req.guidance = c["guidance"].get<double>();
  req.seed = c["seed"].get<uint64_t>();
  if (!c["scheduler"].is_null()) req.scheduler = c["scheduler"];
  if (!c["strength"].is_null()) req.strength = c["strength"];
  if (!c["init_image"].is_null()) req.init_image = load_image(fixture("seeded/" + c["init_image"].get<std::string>()));
  if (!c["mask_image"].is_null()) req.mask_image = load_image(fixture("seeded/" + c["mask_image"].get<std::string>()));
  req.num_images = c["num_images"];
  req.clip_skip = c["clip_skip"];
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
