// SDXL img2img and inpainting through `sd-worker serve` end to end: the real binary serving the
// tiny-sdxl fixture, `image_transform` and `image_inpaint` jobs with the init (and mask) images of
// tests/fixtures/sdxl_modes give diffusers' images (max pixel difference <= 1 from the fixture
// PNGs of StableDiffusionXLImg2ImgPipeline / StableDiffusionXLInpaintPipeline), including the
// SDXL default strengths a job gets when it names none (img2img 0.3, inpaint 0.9999); GET
// /v1/models reports the SDXL family and its default size.
#include <catch.hpp>

#include <fstream>
#include <sstream>

#include "e2e/http_harness.h"
#include "file_bytes.h"
#include "model/image/image_io.h"
#include "seeded_cases.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;

namespace {

std::string fixture_base64(const std::string& name) { return encode_base64(file_bytes(fixture("sdxl_modes/" + name))); }

json sdxl_case(const std::string& id) {
  const auto cases = read_json(fixture("sdxl_modes/cases.json"))["cases"];
  for (const auto& c : cases)
    if (c["id"] == id) return c;
  FAIL("no case " << id);
  return {};
}

// The job body of an sdxl_modes case (strength left out where diffusers used its default).
json job_for(const json& c, const std::string& model) {
  const bool inpaint = c["mode"] == "xl_inpaint";
  json job = {{"operation", inpaint ? "image_inpaint" : "image_transform"},
              {"hive_id", "h"},
              {"model", model},
              {"prompt", c["prompt"]},
              {"steps", c["steps"]},
              {"guidance_scale", c["guidance"]},
              {"seed", c["seed"]}};
  if (!c["negative_prompt"].is_null()) job["negative_prompt"] = c["negative_prompt"];
  if (!c["scheduler"].is_null()) job["scheduler"] = c["scheduler"];
  if (c["strength"].is_number()) job["strength"] = c["strength"];
  if (inpaint) {
    job["init_image"] = fixture_base64(c["init_image"]);
    job["mask_image"] = fixture_base64(c["mask_image"]);
    job["width"] = c["width"];
    job["height"] = c["height"];
  } else {
    job["input_image"] = fixture_base64(c["init_image"]);
  }
  return job;
}

Image run(int port, const json& job) {
  const HttpReply r = post_json(port, job);
  INFO(r.raw);
  REQUIRE(r.status == 200);
  const SseStream s = read_sse(port, "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
  REQUIRE(s.named("complete").size() == 1);
  return decode_image_base64(s.named("complete")[0].json()["image"].get<std::string>());
}

}  // namespace

TEST_CASE("serve runs SDXL img2img and inpainting jobs with diffusers' images and default strengths", "[e2e][sdxl]") {
  WorkerProcess w({"--model", fixture("pipelines/tiny-sdxl"), "--min-side", "48"});
  const HttpReply models = http_get(w.port(), "/v1/models");
  REQUIRE(models.status == 200);
  const std::string id = models.body["data"][0]["id"];
  CHECK(models.body["data"][0]["family"] == "sdxl");
  CHECK(models.body["data"][0]["default_width"] == 64);  // tiny-sdxl: sample_size 32 x VAE factor 2
  // strength 0.6 with a negative prompt; no strength (SDXL img2img's 0.3) without one; 4-channel
  // inpainting without strength (0.9999: steps - 1 steps from the noised init image).
  for (const char* case_id : {"xl_i2i_s06_neg", "xl_i2i_s03_noneg", "xl_inp4_default_strength"}) {
    const json c = sdxl_case(case_id);
    json job = job_for(c, id);
    if (std::string(case_id) == "xl_i2i_s03_noneg") job.erase("strength");  // the model's default
    const Image got = run(w.port(), job);
    const Image expected = decode_image(file_bytes(fixture("sdxl_modes/" + c["expected"][0]["png"].get<std::string>())));
    const int diff = max_pixel_diff(got, expected);
    std::cout << case_id << " through serve: max pixel diff " << diff << "\n";
    INFO(case_id);
    CHECK(diff <= 1);
  }
  CHECK(http_get(w.port(), "/health").status == 200);
}
