// SD3 through `sd-worker serve` end to end: the real binary serving the tiny-sd3 fixture runs
// `image_generation` and `image_transform` jobs of tests/fixtures/sd3 through the actors unchanged
// and returns diffusers' images (max pixel difference <= 1 from the PNGs of
// StableDiffusion3{,Img2Img}Pipeline); GET /v1/models reports the sd3 family and its defaults;
// preview events of an SD3 job are 16-channel latent previews of the latents' size.
#include <catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "e2e/http_harness.h"
#include "e2e/sd3_jobs.h"
#include "file_bytes.h"
#include "model/image/image_io.h"
#include "seeded_cases.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;

namespace {

}  // namespace

TEST_CASE("serve runs SD3 txt2img and img2img jobs with diffusers' images", "[e2e][sd3]") {
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd3"), "--min-side", "48"});
  const HttpReply models = http_get(w.port(), "/v1/models");
  REQUIRE(models.status == 200);
  const std::string id = models.body["data"][0]["id"];
  CHECK(models.body["data"][0]["family"] == "sd3");
  CHECK(models.body["data"][0]["default_width"] == 64);  // tiny transformer: sample_size 32 x VAE factor 2
  CHECK(models.body["data"][0]["default_steps"] == 28);
  for (const std::string case_id : {"sd3_default", "sd3_img2img"}) {
    INFO(case_id);
    const json c = sd3_case(case_id);
    const HttpReply r = post_json(w.port(), sd3_job(c, id));
    INFO(r.raw);
    REQUIRE(r.status == 200);
    const SseStream s = read_sse(w.port(), "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
    REQUIRE(s.named("complete").size() == 1);
    const Image got = decode_image_base64(s.named("complete")[0].json()["image"].get<std::string>());
    CHECK(max_pixel_diff(got, load_image(fixture("sd3/" + c["expected"][0]["png"].get<std::string>()))) <= 1);
  }
}

TEST_CASE("serve sends latent previews of SD3 jobs (16-channel latents -> RGB)", "[e2e][sd3]") {
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd3"), "--min-side", "48"});
  const std::string id = http_get(w.port(), "/v1/models").body["data"][0]["id"];
  json job = sd3_job(sd3_case("sd3_48x80_steps8"), id);  // 48 wide, 80 high, 8 steps
  job["preview_every"] = 1;
  const HttpReply r = post_json(w.port(), job);
  INFO(r.raw);
  REQUIRE(r.status == 200);
  const SseStream s = read_sse(w.port(), "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
  INFO(s.raw.substr(0, 2000));
  REQUIRE(s.named("complete").size() == 1);
  const auto previews = s.named("preview");
  REQUIRE(previews.size() == 7);  // one per step but the last (the complete image follows it)
  for (const auto& p : previews) {
    const Image img = decode_image_base64(p.json()["image"].get<std::string>());
    // The latents' size: the tiny VAE's factor is 2 (SD3 Medium's is 8).
    CHECK(img.width == 24);
    CHECK(img.height == 40);
    CHECK(img.channels == 3);
    const auto [lo, hi] = std::minmax_element(img.pixels.begin(), img.pixels.end());
    CHECK(int(*hi) - int(*lo) > 20);  // a picture, not a constant fill
  }
}
